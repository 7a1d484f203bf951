"""The worklog Nameko service: entrypoints only."""

from common.actor import CurrentActor
from common.db import Database
from common.service import ServiceBase
from services.worklog.models import Base


class WorklogService(ServiceBase):
    """The immutable daily work log with hash chains."""

    name = "worklog"
    db = Database(Base)
    actor = CurrentActor()
