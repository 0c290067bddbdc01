"""Typed errors of the model registry; each message is fit to show a Slack user as is."""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every registry error."""


class RegistryUnavailable(RegistryError):
    """The registry backend (MLflow store or server) could not be reached."""


class UnknownVersion(RegistryError):
    """The user named a version that does not exist; carries the versions that do."""

    def __init__(self, text: str, available: list[int]) -> None:
        self.text = text
        self.available = sorted(available)
        listed = ", ".join(f"v{v}" for v in self.available) or "none registered yet"
        name = text.strip() or "(empty)"
        super().__init__(f"there is no {name}; versions are {listed}")


class NoProductionVersion(RegistryError):
    """No version carries the `production` alias yet."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        super().__init__(f"no version of {model_name} is in production")


class UnknownEstimator(RegistryError):
    """A training request named an estimator we do not offer."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = list(available)
        super().__init__(f"unknown estimator {name!r}; choose one of {', '.join(self.available)}")


class InvalidParams(RegistryError):
    """Hyper-parameters failed validation; `problems` maps each parameter to what is wrong."""

    def __init__(self, estimator: str, problems: dict[str, str]) -> None:
        self.estimator = estimator
        self.problems = dict(problems)
        detail = "; ".join(f"{k}: {v}" for k, v in self.problems.items())
        super().__init__(f"invalid parameters for {estimator}: {detail}")


class UntrustedModelTypes(RegistryError):
    """A model would need types outside our skops allow-list to load; we refuse it."""

    def __init__(self, types: list[str]) -> None:
        self.types = sorted(types)
        super().__init__(f"model contains types outside the trusted list: {', '.join(self.types)}")


class ModelLoadError(RegistryError):
    """A registered version's artifact is missing, malformed or not in the skops format."""


class InvalidTags(RegistryError):
    """A tag change touched a reserved lineage tag or used a bad value."""
