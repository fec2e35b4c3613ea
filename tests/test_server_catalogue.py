import pytest
from engine_fixtures import ENGINES, dispose, new_engine
from meterql.server.catalogue import Catalogue, Conflict


@pytest.fixture(params=ENGINES)
def catalogue(request):
    engine = new_engine(request.param)
    yield Catalogue(engine)
    dispose(engine)


def test_records_round_trip(catalogue):
    a = catalogue.create_record("item", "item", {"name": "tokens"}, key="k1")
    b = catalogue.create_record("item", "item", {"name": "other"})
    assert a["id"].startswith("item_") and a["key"] == "k1" and b["key"] is None
    assert catalogue.get_record("item", "k1")["name"] == "tokens"
    assert catalogue.get_record("item", a["id"])["name"] == "tokens"
    assert catalogue.get_record("price", a["id"]) is None  # kinds are separate
    with pytest.raises(Conflict):
        catalogue.create_record("item", "item", {"name": "again"}, key="k1")
    catalogue.create_record("price", "price", {"x": 1}, key="k1")  # the same key in another kind is fine
    assert [r["name"] for r in catalogue.list_records("item", 10)] == ["tokens", "other"]
    catalogue.update_record("item", a["id"], {"name": "renamed"})
    got = catalogue.get_record("item", "k1")
    assert got["name"] == "renamed" and got["id"] == a["id"]
    catalogue.delete_record("item", a["id"])
    assert catalogue.get_record("item", "k1") is None
    assert [r["name"] for r in catalogue.list_records("item", 10)] == ["other"]
    hostile = "x' OR '1'='1"
    assert catalogue.get_record("item", hostile) is None
    catalogue.create_record("item", "item", {"name": hostile}, key=hostile)
    assert catalogue.get_record("item", hostile)["name"] == hostile


def test_subjects_update_and_delete(catalogue):
    from meterql.errors import InvalidSpec

    a = catalogue.create_subject("a-ext", "A", "a@x.test", {"k": "v"})
    b = catalogue.create_subject(None, "B", None, {})
    got = catalogue.update_subject("a-ext", {"name": None, "metadata": {"k": "w"}})
    assert got == {**a, "name": None, "metadata": {"k": "w"}}
    assert catalogue.get_subject(a["id"]) == got
    assert catalogue.update_subject(a["id"], {}) == got  # nothing to change
    with pytest.raises(Conflict):
        catalogue.update_subject(b["id"], {"external_id": "a-ext"})
    with pytest.raises(Conflict):
        catalogue.update_subject(b["id"], {"external_id": a["id"]})  # another subject's id
    with pytest.raises(InvalidSpec):
        catalogue.update_subject(b["id"], {"id": "subj_mine"})
    hostile = "b'); DELETE FROM subjects; --"
    assert catalogue.update_subject(b["id"], {"external_id": hostile})["external_id"] == hostile
    assert catalogue.get_subject(hostile)["id"] == b["id"]
    assert catalogue.update_subject("nobody", {"name": "x"}) is None
    assert catalogue.delete_subject(hostile)["id"] == b["id"]
    assert catalogue.get_subject(b["id"]) is None and catalogue.delete_subject(b["id"]) is None
    assert [s["id"] for s in catalogue.list_subjects(10)] == [a["id"]]
    assert catalogue.update_subject(a["id"], {"external_id": None})["external_id"] is None
    assert catalogue.get_subject("a-ext") is None
