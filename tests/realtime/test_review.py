"""The review folder: labelImg files from verdicts, never replacing a person's XML unasked,
and a folder `lookout dataset check` passes (negatives included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime.review.store import (
    EventNotFound,
    ReviewBox,
    ReviewConflict,
    ReviewError,
    ReviewStore,
    list_reviews,
    parse_request,
    save_review,
)
from realtime.review.voc import VocObject, voc_xml
from tests.fixtures.models import make_blob_image
from tests.fixtures.reviews import make_events

A, B = "20261205T100000Z-aaaaaa", "20261205T100100Z-bbbbbb"


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return make_events(tmp_path / "events", [
        (A, "red", [10, 12, 40, 30], make_blob_image(48, 64, red=(10, 12, 40, 30))),
        (B, "blue", [5, 5, 20, 20], make_blob_image(48, 64, blue=(5, 5, 20, 20))),
    ])


def test_right_alert_is_the_snapshot_plus_labelimg_xml(events: Path) -> None:
    review = save_review(events, A, "right", [ReviewBox("red", (10, 12, 40, 30))])
    folder = events / "review"
    jpg, xml = folder / f"{A}.jpg", folder / f"{A}.xml"
    # the clean snapshot, byte for byte (no re-encoding), and the one labelImg writer's bytes
    assert jpg.read_bytes() == (events / "snapshots" / f"{A}.clean.jpg").read_bytes()
    assert xml.read_bytes() == voc_xml(jpg, 64, 48, 3, [VocObject("red", 10, 12, 40, 30)],
                                       verified=True).encode()
    assert review.verdict == "right" and not review.negative and not review.edited
    assert review.boxes == [ReviewBox("red", (10.0, 12.0, 40.0, 30.0))]
    meta = json.loads((folder / f"{A}.review.json").read_text())
    assert meta["event"] == A and meta["label"] == "red" and meta["camera"] == "porch"
    assert not list(folder.glob(".*"))  # no temporary files left


def test_wrong_alert_without_boxes_is_a_negative_example(events: Path) -> None:
    save_review(events, B, "wrong", [])
    [review] = list_reviews(events)
    assert review.verdict == "wrong" and review.negative and review.label == "blue"
    assert "<object>" not in review.xml.read_text()
    as_json = review.as_dict()
    assert as_json["negative"] and as_json["boxes"] == [] and as_json["image"] == f"{B}.jpg"
    json.dumps(as_json)  # what GET /api/reviews sends


def test_dataset_check_passes_on_the_review_folder(events: Path) -> None:
    from training.datasets.check import check_dataset

    save_review(events, A, "right", [ReviewBox("red", (10, 12, 40, 30))])
    save_review(events, B, "wrong", [])
    report = check_dataset(events / "review")
    assert report.format == "voc" and report.ok() and report.images == 2
    assert dict(report.objects) == {"red": 1}
    assert [p.message for p in report.warnings] == ["no objects annotated (kept as a background image)"]


def test_an_existing_xml_is_replaced_only_with_its_version_or_overwrite(events: Path) -> None:
    store = ReviewStore(events)
    first = store.save(A, "right", [ReviewBox("red", (10, 12, 40, 30))])
    with pytest.raises(ReviewConflict) as err:
        store.save(A, "wrong", [])
    assert err.value.current == first.version
    second = store.save(A, "right", [ReviewBox("red", (9, 12, 40, 31))], version=first.version)
    assert second.version != first.version
    # a person fixes the box in labelImg: the page's copy is stale now
    second.xml.write_text(second.xml.read_text().replace("<xmin>9</xmin>", "<xmin>11</xmin>"))
    edited = store.get(A)
    assert edited is not None and edited.edited and edited.boxes[0].box[0] == 11.0
    with pytest.raises(ReviewConflict):
        store.save(A, "wrong", [], version=second.version)
    assert store.get(A).boxes[0].box[0] == 11.0  # the person's file is untouched
    assert store.save(A, "wrong", [], overwrite=True).negative


def test_a_hand_made_xml_is_listed_without_a_verdict_and_kept(events: Path) -> None:
    folder = events / "review"
    folder.mkdir()
    (folder / f"{A}.jpg").write_bytes((events / "snapshots" / f"{A}.clean.jpg").read_bytes())
    (folder / f"{A}.xml").write_text(voc_xml(folder / f"{A}.jpg", 64, 48, 3,
                                             [VocObject("red", 1, 1, 9, 9)]))
    [review] = list_reviews(events)
    assert review.verdict is None and review.boxes[0].label == "red"
    with pytest.raises(ReviewConflict):
        save_review(events, A, "wrong", [])


def test_boxes_are_clipped_to_the_frame_and_labels_checked(events: Path) -> None:
    review = save_review(events, A, "right", [ReviewBox("red", (-5, 10, 70, 30))],
                         labels={"red", "blue"})
    assert review.boxes[0].box == (1.0, 10.0, 64.0, 30.0)  # labelImg's corners
    with pytest.raises(ReviewError, match="'cat' is not one of the model's labels"):
        save_review(events, B, "right", [ReviewBox("cat", (1, 1, 9, 9))], labels={"red"})
    with pytest.raises(ReviewError, match="outside"):
        save_review(events, B, "right", [ReviewBox("blue", (70, 1, 90, 9))])


def test_a_frame_of_the_clip_is_its_own_review(events: Path) -> None:
    import cv2

    ok, jpeg = cv2.imencode(".jpg", make_blob_image(48, 64, blue=(30, 20, 50, 40)))
    assert ok
    review = save_review(events, A, "missed", [ReviewBox("blue", (30, 20, 50, 40))],
                         frame=17, image=jpeg.tobytes())
    assert review.name == f"{A}-f000017" and review.frame == 17 and review.verdict == "missed"


@pytest.mark.parametrize("event_id, snapshot, message", [
    ("20261205T000000Z-nothere", None, "no event"),
    ("../../etc/passwd", None, "not an event id"),
    (A, "../../outside.clean.jpg", "no clean snapshot"),
    (A, "/etc/hostname", "no clean snapshot"),
])
def test_events_outside_the_folder_are_not_found(events: Path, event_id, snapshot, message) -> None:
    if snapshot is not None:  # the log points out of the events folder
        log = events / "events.jsonl"
        log.write_text(log.read_text().replace(f"snapshots/{A}.clean.jpg", snapshot))
        (events.parent / "outside.clean.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(EventNotFound, match=message):
        save_review(events, event_id, "wrong", [])
    assert not (events / "review").exists() or not list((events / "review").iterdir())


@pytest.mark.parametrize("body, message", [
    ([], "expected a JSON object"),
    ({"verdict": "maybe", "boxes": []}, "verdict must be one of right, wrong, missed"),
    ({"verdict": "right", "boxes": {}}, "boxes must be a list"),
    ({"verdict": "right", "boxes": [{"label": "", "box": [1, 2, 3, 4]}]}, r"boxes\[0\].label"),
    ({"verdict": "right", "boxes": [{"label": "red", "box": [1, 2, 3]}]}, r"boxes\[0\].box"),
    ({"verdict": "right", "boxes": [{"label": "red", "box": [1, 2, 3, "4"]}]}, r"boxes\[0\].box"),
    ({"verdict": "right", "boxes": [], "version": 3}, "version must be a string"),
    ({"verdict": "right", "boxes": [], "overwrite": "yes"}, "overwrite must be true or false"),
    ({"verdict": "right", "boxes": [], "extra": 1}, "unknown field 'extra'"),
])
def test_bad_requests_name_the_field(body, message) -> None:
    with pytest.raises(ReviewError, match=message):
        parse_request(body)


def test_a_request_parses_into_the_save_arguments(events: Path) -> None:
    verdict, boxes, version, overwrite = parse_request(
        {"verdict": "wrong", "boxes": [{"label": "blue", "box": [5, 5, 20, 20]}]})
    assert (verdict, version, overwrite) == ("wrong", None, False)
    review = ReviewStore(events).save(B, verdict, boxes, version=version, overwrite=overwrite)
    assert review.as_dict()["boxes"] == [{"label": "blue", "box": [5.0, 5.0, 20.0, 20.0]}]
