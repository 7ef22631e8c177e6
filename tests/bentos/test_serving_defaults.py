"""The service's code defaults are configs/serving.yaml's values: a service given no serving
config at all (or a key left out) behaves as the shipped file says."""

from __future__ import annotations

from dataclasses import fields

from bentos.settings import ServingSettings
from sabiscore.config import load_config


def test_the_code_defaults_equal_the_shipped_serving_config() -> None:
    config = load_config()
    env = {"SABISCORE_DATA_DIR": "/nonexistent/store"}
    shipped = ServingSettings.from_config(config, env)
    bare = ServingSettings.from_config({**config, "serving": {}}, env)
    differ = {
        f.name: (getattr(shipped, f.name), getattr(bare, f.name))
        for f in fields(shipped)
        if getattr(shipped, f.name) != getattr(bare, f.name)
    }
    assert differ == {}
    assert shipped.max_batch_size == config["serving"]["predict"]["max_batch_size"]  # read
