from __future__ import annotations
import os, time, collections
import schemathesis
from hypothesis import HealthCheck, settings
from tests.contract.conftest import SPEC_PATH, Bridge
import tests.contract.test_openapi_conformance as conf

COV = os.environ.get("COV", "1") == "1"
config = schemathesis.Config.from_dict({"seed": 20261126, "phases": {"coverage": {"enabled": COV}, "examples": {"enabled": True}, "fuzzing": {"enabled": os.environ.get("FUZZ","1")=="1"}}})
schema = schemathesis.openapi.from_path(SPEC_PATH, config=config)
schema.hooks = conf.schema.hooks
COUNT = collections.Counter()
T = collections.Counter()
@schema.include(path_regex=os.environ.get("ONLY", ".*")).parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_t(case, bridge: Bridge) -> None:
    t=time.monotonic()
    try:
        case.call_and_validate(base_url=bridge.url, checks=conf.CHECKS, timeout=20)
    finally:
        COUNT[case.operation.label]+=1; T[case.operation.label]+=time.monotonic()-t

def teardown_module():
    for k,v in COUNT.most_common(): print(f"{v:5d} {T[k]:7.2f}s {k}")
