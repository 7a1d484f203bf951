"""The scoring Nameko service: entrypoints only."""

from common.actor import CurrentActor
from common.db import Database
from common.service import ServiceBase
from services.scoring.models import Base


class ScoringService(ServiceBase):
    """Derived scores: curves, leaderboards, fake-report analysis, early warnings."""

    name = "scoring"
    db = Database(Base)
    actor = CurrentActor()
