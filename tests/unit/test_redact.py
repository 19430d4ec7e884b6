"""redact.mask_env_vars: runtime env strings shown in diffs keep their shape, never their values."""

from __future__ import annotations

import yaml

from gitops_ray.record.redact import HIDDEN, mask_env_vars


def test_env_var_values_in_a_runtime_env_yaml_are_hidden_and_the_rest_kept() -> None:
    text = "pip: [requests==2.31]\nworking_dir: s3://bucket/code.zip\nenv_vars:\n  HF_TOKEN: hf-secret-123\n"
    masked = mask_env_vars(text)
    assert "hf-secret-123" not in masked
    assert yaml.safe_load(masked) == {"pip": ["requests==2.31"], "working_dir": "s3://bucket/code.zip",
                                      "env_vars": {"HF_TOKEN": HIDDEN}}


def test_serve_config_env_vars_nested_in_applications_are_hidden() -> None:
    text = "applications:\n- name: app\n  runtime_env:\n    env_vars: {API_KEY: k-42, MODE: fast}\n"
    assert yaml.safe_load(mask_env_vars(text))["applications"][0]["runtime_env"]["env_vars"] == {
        "API_KEY": HIDDEN, "MODE": HIDDEN}


def test_text_without_env_vars_is_unchanged_and_unparseable_text_is_hidden_whole() -> None:
    assert mask_env_vars("pip: [a]\n") == "pip: [a]\n"
    assert mask_env_vars("env_vars: [unclosed") == HIDDEN
