from tests.flows.conftest import prefect_harness  # noqa: F401 - flows run here too
