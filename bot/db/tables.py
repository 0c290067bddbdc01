"""Imports every module that defines tables, so `Base.metadata` is complete for Alembic."""

from bot.access import models as access_models  # noqa: F401
from bot.audit import models as audit_models  # noqa: F401
from bot.data import models as data_models  # noqa: F401
from bot.deploy import models as deploy_models  # noqa: F401
from bot.incidents import models as incident_models  # noqa: F401
from bot.quality import models as quality_models  # noqa: F401
from bot.runbook import models as runbook_models  # noqa: F401
from bot.serving import models as serving_models  # noqa: F401
from bot.updates import models as update_models  # noqa: F401
