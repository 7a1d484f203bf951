"""The experience Nameko service: entrypoints only."""

from common.actor import CurrentActor
from common.db import Database
from common.service import ServiceBase
from services.experience.models import Base


class ExperienceService(ServiceBase):
    """The experience pool (经验池): search, suggestions, handbook."""

    name = "experience"
    db = Database(Base)
    actor = CurrentActor()
