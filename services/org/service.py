from common.actor import CurrentActor
from common.db import Database
from common.service import ServiceBase
from services.org.models import Base


class OrgService(ServiceBase):
    name = "org"
    db = Database(Base)
    actor = CurrentActor()
