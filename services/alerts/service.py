"""The alerts Nameko service: entrypoints only."""

from common.actor import CurrentActor
from common.db import Database
from common.service import ServiceBase
from services.alerts.models import Base


class AlertsService(ServiceBase):
    """Difficulty alarms, responses and escalation."""

    name = "alerts"
    db = Database(Base)
    actor = CurrentActor()
