"""load_ferplus and the FER+ majority rule, on synthetic vote files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REAL_DATA, write_fer_csv

from fer_classifier import load_ferplus
from fer_classifier.ferplus import FERPLUS_EMOTIONS, VOTE_COLUMNS, ferplus_majority

REAL_VOTES = REAL_DATA.parents[1] / "ferplus" / "fer2013new.csv"

# Label -> column of fer2013new.csv (the file's order differs from ours).
FILE_COLUMN = dict(zip(range(8), ["anger", "disgust", "fear", "happiness", "sadness",
                                  "surprise", "neutral", "contempt"]))


def vote_row(**counts):
    """Votes in ferplus_majority's order from names like angry=6, unknown=2."""
    order = [e.lower() for e in FERPLUS_EMOTIONS] + ["unknown", "nf"]
    return [counts.get(name, 0) for name in order]


@pytest.mark.parametrize("counts, label", [
    (dict(angry=6, neutral=4), 0),
    (dict(happy=10), 3),
    (dict(contempt=7, sad=3), 7),
    (dict(angry=5, neutral=5), -1),  # a tie is not a majority
    (dict(fear=5, disgust=1, sad=1, happy=1, surprise=1, neutral=1), 2),  # single votes dropped
    (dict(fear=4, sad=3, neutral=3), -1),  # 4 of 10 is not more than half
    (dict(unknown=6, sad=4), -2),
    (dict(nf=10), -2),
    (dict(angry=1, fear=1, sad=1, happy=1, neutral=1, unknown=1), -1),  # nothing left
])
def test_majority_rule(counts, label):
    assert ferplus_majority([vote_row(**counts)]).tolist() == [label]


def test_majority_checks_its_input():
    with pytest.raises(ValueError, match=r"shape \(n_faces, 10\).*\(2, 8\)"):
        ferplus_majority(np.zeros((2, 8)))


def write_votes(path, labels, usages, *, no_image=(), extra=None):
    """A fer2013new.csv: 8 votes for each label, 2 for a second emotion."""
    rows = []
    for i, (label, usage) in enumerate(zip(labels, usages)):
        votes = dict.fromkeys(VOTE_COLUMNS, 0)
        votes[FILE_COLUMN[label]] = 8
        votes[FILE_COLUMN[(label + 1) % 7]] += 2
        if extra and i in extra:
            votes.update(extra[i])
        name = "" if i in no_image else f"fer{i:07d}.png"
        rows.append({"Usage": usage, "Image name": name, **votes})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def files(tmp_path):
    """120 aligned faces (Training 100, PublicTest 20): images, FER2013 labels, votes."""
    rng = np.random.default_rng(0)
    n = 120
    images = rng.integers(0, 256, size=(n, 48, 48), dtype=np.uint8)
    labels = np.arange(n) % 7
    usages = ["Training"] * 100 + ["PublicTest"] * 20
    fer = write_fer_csv(tmp_path / "fer2013.csv", images, labels, usages)
    ferplus_labels = labels.copy()
    ferplus_labels[::10] = (labels[::10] + 3) % 7  # FER+ disagrees on a tenth of the faces
    extra = {
        5: {"contempt": 9, FILE_COLUMN[5]: 0, FILE_COLUMN[6]: 1},  # contempt majority
        6: {"unknown": 9, FILE_COLUMN[6]: 0, FILE_COLUMN[0]: 1},  # unknown majority
        7: {FILE_COLUMN[0]: 5, FILE_COLUMN[1]: 5},  # tie: no majority
    }
    votes = write_votes(tmp_path / "fer2013new.csv", ferplus_labels, usages,
                        no_image=(3,), extra=extra)
    return votes, fer, images, labels, ferplus_labels


def test_loads_faces_with_a_majority_and_their_distributions(files):
    votes, fer, images, labels, ferplus_labels = files
    data = load_ferplus(votes, fer2013_path=fer)
    kept = np.array([i for i in range(120) if i not in (3, 6, 7)])
    np.testing.assert_array_equal(data.row, kept)
    np.testing.assert_array_equal(data.images, images[kept])
    np.testing.assert_array_equal(data.data, images[kept].reshape(-1, 2304))
    expected = ferplus_labels[kept]
    expected[kept == 5] = 7
    np.testing.assert_array_equal(data.target, expected)
    np.testing.assert_array_equal(data.fer2013_target, labels[kept])
    assert data.dropped == {"no image": 1, "no majority": 1, "unknown or not a face": 1}
    assert data.target_names == list(FERPLUS_EMOTIONS) and len(data.target_names) == 8
    assert data.target_proba.shape == (len(kept), 8) and data.target_proba.dtype == np.float32
    np.testing.assert_allclose(data.target_proba.sum(axis=1), 1, rtol=1e-6)
    # Face 0: 8 votes for its label, 2 for the next: 0.8 / 0.2.
    assert data.target_proba[0, expected[0]] == pytest.approx(0.8)
    assert data.target_proba[0, (expected[0] + 1) % 7] == pytest.approx(0.2)
    # Face 5: the single neutral vote is an outlier, left out of the distribution.
    five = data.target_proba[data.row == 5][0]
    assert five[7] == 1 and five[6] == 0  # 9 contempt votes; 1 neutral vote dropped
    assert data.votes.shape == (len(kept), 10) and data.vote_names[-2:] == ["Unknown",
                                                                           "Not a face"]
    assert data.usage.tolist().count("PublicTest") == 20
    assert "FER+" in data.DESCR and "Barsoum" in data.DESCR
    assert (data.filename, data.fer2013_filename) == (str(votes), str(fer))


def test_seven_classes_drop_contempt_and_subsets_select(files):
    votes, fer, *_ = files
    data = load_ferplus(votes, fer2013_path=fer, n_classes=7, subset="Training")
    assert 5 not in data.row and data.dropped["contempt"] == 1
    assert data.target.max() <= 6 and data.target_proba.shape[1] == 7
    assert set(data.usage) == {"Training"} and data.row.max() < 100
    assert data.target_names == list(FERPLUS_EMOTIONS[:7])
    X, y = load_ferplus(votes, fer2013_path=fer, subset="PublicTest", return_X_y=True)
    assert X.shape == (20, 2304) and len(y) == 20
    framed = load_ferplus(votes, fer2013_path=fer, as_frame=True)
    assert framed.frame.shape == (117, 2304 + 1 + 10 + 1)
    assert framed.target.name == "emotion"


def test_files_found_in_the_data_folder(files, tmp_path, monkeypatch):
    votes, fer, *_ = files
    home = tmp_path / "home"
    (home / "ferplus").mkdir(parents=True)
    (home / "ferplus" / "fer2013new.csv").write_bytes(Path(votes).read_bytes())
    (home / "fer2013.csv").write_bytes(Path(fer).read_bytes())
    monkeypatch.setenv("FER_CLASSIFIER_DATA", str(home))
    assert len(load_ferplus().target) == 117
    monkeypatch.setenv("FER_CLASSIFIER_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    with pytest.raises(FileNotFoundError, match=r"(?s)FER\+ votes not found.*nowhere.*"
                                                r"ferplus/fer2013new.csv.*FERPlus"):
        load_ferplus()


def test_row_counts_that_differ_name_both_files(files, tmp_path):
    votes, fer, images, labels, _ = files
    short = write_fer_csv(tmp_path / "short.csv", images[:50], labels[:50], ["Training"] * 50)
    with pytest.raises(ValueError, match=r"fer2013new.csv has 120 rows but .*short.csv has 50"):
        load_ferplus(votes, fer2013_path=short)


def test_usage_that_differs_names_the_line(files, tmp_path):
    votes, fer, images, labels, _ = files
    other = write_fer_csv(tmp_path / "other.csv", images, labels,
                          ["Training"] * 90 + ["PublicTest"] * 30)
    with pytest.raises(ValueError, match=r"line 92 is a 'Training' row but line 92 of "
                                         r".*other.csv is 'PublicTest' \(10 rows differ\)"):
        load_ferplus(votes, fer2013_path=other)


def test_reordered_rows_are_refused(files, tmp_path):
    votes, fer, images, labels, _ = files
    order = np.random.default_rng(3).permutation(100)  # shuffle within Training
    order = np.concatenate([order, np.arange(100, 120)])
    shuffled = write_fer_csv(tmp_path / "shuffled.csv", images[order], labels[order],
                             ["Training"] * 100 + ["PublicTest"] * 20)
    with pytest.raises(ValueError, match=r"do not seem to be aligned row for row: FER\+'s "
                                         r"majority label equals FER2013's label on \d"):
        load_ferplus(votes, fer2013_path=shuffled)


@pytest.mark.parametrize("value, message", [("x", "'x'"), ("11", "'11'"), ("-1", "'-1'")])
def test_bad_votes_name_the_line(files, value, message, tmp_path):
    votes, fer, *_ = files
    frame = pd.read_csv(votes, dtype=str, keep_default_na=False)
    frame.loc[4, "fear"] = value
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=rf"bad.csv, line 6: fear has {message}; votes are "
                                         r"integers 0-10"):
        load_ferplus(tmp_path / "bad.csv", fer2013_path=fer)


def test_argument_errors(files, tmp_path):
    votes, fer, *_ = files
    with pytest.raises(ValueError, match=r"n_classes must be 8 .* or 7 .*n_classes=6"):
        load_ferplus(votes, fer2013_path=fer, n_classes=6)
    with pytest.raises(ValueError, match="Unknown subset 'Test'"):
        load_ferplus(votes, fer2013_path=fer, subset="Test")
    with pytest.raises(ValueError, match="no rows with Usage PrivateTest"):
        load_ferplus(votes, fer2013_path=fer, subset="PrivateTest")
    (tmp_path / "images" / "train" / "happy").mkdir(parents=True)
    with pytest.raises(ValueError, match="is a folder; FER\\+ votes are aligned"):
        load_ferplus(votes, fer2013_path=tmp_path / "images")
    pd.DataFrame({"Usage": ["Training"], "neutral": [1]}).to_csv(tmp_path / "cols.csv",
                                                                  index=False)
    with pytest.raises(ValueError, match=r"cols.csv: missing column\(s\) happiness"):
        load_ferplus(tmp_path / "cols.csv", fer2013_path=fer)


@pytest.mark.skipif(not (REAL_VOTES.is_file() and REAL_DATA.is_file()),
                    reason="real FER2013 / FER+ files not found")
def test_real_files_are_loaded_or_refused_as_not_aligned():
    # The development copy of FER2013 was rebuilt from the image edition in
    # another row order: the loader must say so instead of mislabelling faces.
    try:
        data = load_ferplus(REAL_VOTES, fer2013_path=REAL_DATA, subset="PublicTest")
    except ValueError as exc:
        assert "do not seem to be aligned" in str(exc)
        assert str(REAL_VOTES) in str(exc) and str(REAL_DATA) in str(exc)
        return
    agree = data.target[data.target < 7] == data.fer2013_target[data.target < 7]
    assert agree.mean() > 0.4
    assert data.dropped["no image"] == 10
