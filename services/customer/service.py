from common.actor import CurrentActor
from common.db import Database
from common.service import ServiceBase
from services.customer.models import Base


class CustomerService(ServiceBase):
    name = "customer"
    db = Database(Base)
    actor = CurrentActor()
