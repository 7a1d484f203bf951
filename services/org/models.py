from common.db import service_base

Base = service_base()
