"""The registries every family of variants uses, their declarations, and `facebench list`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from facebench.cli import main
from facebench.config import SECTIONS, TrialConfig
from facebench.errors import ConfigError
from facebench.params import Param
from facebench.registry import REGISTRIES, Registry, load_all


def test_unknown_name_lists_the_names_that_exist():
    reg = Registry("widget-test", key="model.widget")
    try:
        reg.declare("alpha", "first", "builtins:dict")
        reg.declare("beta", "second", "builtins:dict", params={"size": Param(3, "how big", lo=1)})
        assert reg.names() == ["alpha", "beta"] and "alpha" in reg and reg.help("beta") == "second"
        assert reg.get("beta").load()(a=1) == {"a": 1}  # the target is imported only when built
        with pytest.raises(ConfigError, match=r"model.widget: unknown widget-test 'gamma'; choose one of: alpha, beta"):
            reg.get("gamma")
        with pytest.raises(ValueError, match="registered twice"):
            reg.declare("alpha", "again", "builtins:dict")
    finally:
        del REGISTRIES["widget-test"]


def test_every_family_is_registered_and_listed(capsys):
    kinds = load_all()
    for kind in ("dataset", "backbone", "loss", "optimizer", "scheduler", "augmentation"):
        assert len(kinds[kind]) > 0, kind
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("arcface", "resnet50", "plainnet18", "vae", "lfw_people", "cifar10", "onecycle", "adamw"):
        assert f"  {name} " in out
    assert main(["list", "--keys"]) == 0
    out = capsys.readouterr().out
    assert "loss.margin" in out and "sphereface 1.5" in out  # each variant's own default is listed
    assert out.startswith("config keys") and "backbones:" not in out  # just the keys, not every registry again


def test_config_rejects_unregistered_names():
    with pytest.raises(ConfigError, match="model.backbone: unknown backbone 'resnet19'; choose one of: .*resnet18"):
        TrialConfig.from_dict({"model.backbone": "resnet19"})
    with pytest.raises(ConfigError, match="loss.name: unknown loss 'arcfaces'"):
        TrialConfig.from_dict({"loss.name": "arcfaces"})


def test_every_declared_target_exists_and_takes_its_declared_keys():
    """A declaration and its code cannot drift: each target is importable and accepts each declared key."""
    import inspect

    for reg in load_all().values():
        for variant in reg.variants():
            fn = variant.load()
            sig = inspect.signature(fn.__init__ if inspect.isclass(fn) else fn)
            takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
            for key in variant.params:
                assert takes_any or key in sig.parameters, (reg.kind, variant.name, key)


def test_every_variant_key_is_a_config_key_with_its_declared_default():
    for section, cls in SECTIONS.items():
        fields = cls.__dataclass_fields__
        for f in fields.values():
            users = f.metadata.get("users")
            if users:
                defaults = {p.default for p in users.values()}
                assert f.default == (defaults.pop() if len(defaults) == 1 else None), f"{section}.{f.name}"


def test_validating_a_config_imports_no_torch_and_no_engine():
    code = (
        "import sys; from facebench.config import TrialConfig; "
        "TrialConfig.from_dict({'loss.name': 'cosface', 'loss.margin': 0.3, 'schedule.name': 'step'}); "
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('facebench.engine')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_list_into_a_closed_pipe_is_not_an_error():
    """`facebench list | head`: the reader stops early (here before anything is written: `head -n 0` exits at
    once); no "Broken pipe" error line, exit 0."""
    import subprocess
    import sys

    res = subprocess.run(
        f'set -o pipefail; "{sys.executable}" -m facebench.cli list --keys | head -n 0',
        shell=True,
        text=True,
        capture_output=True,
        executable="/bin/bash",
    )
    assert res.returncode == 0 and res.stderr == "", res.stderr
