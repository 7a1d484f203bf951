"""Tables of the opportunity service alone (its features arrive with their issues)."""

from common.db import service_base

Base = service_base()
