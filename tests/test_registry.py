"""The registry every family of variants uses, and `facebench list`."""

from __future__ import annotations

import pytest

from facebench.cli import main
from facebench.config import TrialConfig
from facebench.errors import ConfigError
from facebench.registry import REGISTRIES, Registry, load_all


def test_unknown_name_lists_the_names_that_exist():
    reg = Registry("widget-test")
    try:
        reg.register("alpha", help="first")(object)
        reg.add("beta", object(), help="second")
        assert reg.names() == ["alpha", "beta"] and "alpha" in reg and reg.help("beta") == "second"
        with pytest.raises(ConfigError, match=r"model.widget: unknown widget-test 'gamma'; choose one of: alpha, beta"):
            reg.get("gamma", key="model.widget")
        with pytest.raises(ValueError, match="registered twice"):
            reg.add("alpha", object())
    finally:
        del REGISTRIES["widget-test"]


def test_every_family_is_registered_and_listed(capsys):
    kinds = load_all()
    for kind in ("dataset", "backbone", "loss", "optimizer", "scheduler", "augmentation"):
        assert len(kinds[kind]) > 0, kind
    assert main(["list", "--keys"]) == 0
    out = capsys.readouterr().out
    for name in ("arcface", "resnet50", "plainnet18", "vae", "lfw_people", "cifar10", "onecycle", "adamw"):
        assert f"  {name} " in out
    assert "loss.margin" in out


def test_config_rejects_unregistered_names():
    with pytest.raises(ConfigError, match="model.backbone: unknown backbone 'resnet19'; choose one of: .*resnet18"):
        TrialConfig.from_dict({"model.backbone": "resnet19"})
    with pytest.raises(ConfigError, match="loss.name: unknown loss 'arcfaces'"):
        TrialConfig.from_dict({"loss.name": "arcfaces"})
