"""The opportunity Nameko service: entrypoints only."""

from common.actor import CurrentActor
from common.db import Database
from common.service import ServiceBase
from services.opportunity.models import Base


class OpportunityService(ServiceBase):
    """Opportunities on the clock: pipelines, lock, stage deadlines, confiscation."""

    name = "opportunity"
    db = Database(Base)
    actor = CurrentActor()
