"""common.db ``command``: a command's answer is recorded with its effect under the request's id,
and the same request delivered again (the broker redelivered it after a crash, a client retried
it under its Idempotency-Key) is answered from the record and does nothing again. In process, on
a SQLite file: the unit of work and the entrypoint wrapper, no broker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from common.db import Db, Request, command, make_engine, service_base

Base = service_base()


class Thing(Base):
    __tablename__ = "things"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(50))


class FakeRelay:
    def wake(self) -> None:
        pass


@pytest.fixture
def provider(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'once.db'}")
    Base.metadata.create_all(engine)
    tables = Base.metadata.tables
    return SimpleNamespace(
        engine=engine,
        session_factory=sessionmaker(bind=engine, expire_on_commit=False),
        outbox=tables["outbox"],
        processed=tables["processed_events"],
        request_log=tables["request_log"],
        relay=FakeRelay(),
        container=SimpleNamespace(service_name="things"),
    )


class Service:
    """A service whose ``create`` command inserts a row and publishes nothing."""

    def __init__(self, provider, request_id: str | None, operation: str = "create", repeat=True):
        request = Request(request_id, operation, repeat) if request_id else None
        self.db = Db(provider, request)
        self.calls = 0

    @command
    def create(self, name: str) -> dict:
        self.calls += 1
        with self.db.unit_of_work() as uow:
            thing = Thing(name=name)
            uow.session.add(thing)
            uow.session.flush()
            return uow.answer({"id": str(thing.id), "name": name})


def count(provider) -> int:
    with provider.session_factory() as session:
        return session.scalar(select(func.count()).select_from(Thing))


def test_a_redelivered_request_is_answered_again_and_does_nothing_again(provider):
    first = Service(provider, "r:1").create(name="华为")
    again = Service(provider, "r:1")  # the same request, delivered to another worker
    assert again.create(name="华为") == first
    assert again.calls == 0 and count(provider) == 1


def test_a_first_delivery_looks_for_no_answer_and_records_its_own(provider):
    """A request delivered for the first time (not redelivered, no Idempotency-Key) cannot have
    an answer yet: no query for one; its answer is recorded all the same, for a redelivery."""
    from sqlalchemy import event

    looked = []
    event.listen(
        provider.engine,
        "before_cursor_execute",
        lambda *args: looked.append(args[2]) if "FROM request_log" in args[2] else None,
    )
    first = Service(provider, "r:5", repeat=False).create(name="甲")
    assert looked == []
    assert Service(provider, "r:5", repeat=True).create(name="甲") == first
    assert len(looked) == 1 and count(provider) == 1


def test_other_requests_and_calls_without_an_id_each_do_their_work(provider):
    a = Service(provider, "r:1").create(name="甲")
    b = Service(provider, "r:2").create(name="乙")
    c = Service(provider, None).create(name="丙")
    d = Service(provider, None).create(name="丙")
    assert len({a["id"], b["id"], c["id"], d["id"]}) == 4 and count(provider) == 4


def test_the_same_id_for_another_operation_is_another_request(provider):
    Service(provider, "r:1", "create").create(name="甲")
    Service(provider, "r:1", "import").create(name="甲")
    assert count(provider) == 2


def test_a_refused_command_records_nothing_and_may_be_sent_again(provider):
    class Refusing(Service):
        @command
        def create(self, name: str) -> dict:
            with self.db.unit_of_work() as uow:
                uow.session.add(Thing(name=name))
                uow.answer({"name": name})
                raise ValueError("refused after its answer was given")

    with pytest.raises(ValueError):
        Refusing(provider, "r:9").create(name="x")
    assert count(provider) == 0  # rolled back: the answer with it
    assert Service(provider, "r:9").create(name="x")["name"] == "x" and count(provider) == 1


def test_two_deliveries_at_the_same_moment_commit_one_effect(provider):
    """The second delivery found no answer yet and did its work; the first one commits its
    effect and answer meanwhile. The second's record of the answer then collides with the
    first's (the primary key): its effect rolls back and it answers what the first recorded."""

    class Overtaken(Service):
        @command
        def create(self, name: str) -> dict:
            self.calls += 1
            Service(provider, "r:7").create(name=name)  # the other delivery, committed first
            return super().create.__wrapped__(self, name)

    second = Overtaken(provider, "r:7", repeat=False)  # it did not even look
    answer = second.create(name="甲")
    assert second.calls == 2  # it went to work: the answer was not there when it looked
    assert answer == Service(provider, "r:7").create(name="甲") and count(provider) == 1
