from hypothesis import given, strategies as st

from rag.text.citations import check, parse, renumber


def test_dangling_citations_are_removed_and_reported():
    c = check("Réponse [1] et [9].", n_evidence=3)
    assert c.text == "Réponse [1] et." and c.cited == [1] and c.dangling == [9]


def test_variants_small_models_write_are_understood():
    assert parse("a [1, 2] b [3-4] c 【5】 d [ 6 ]") == [1, 2, 3, 4, 5, 6]


def test_years_and_plain_brackets_are_not_citations():
    assert parse("en 2024 (voir [a]) et [2025]") == []
    assert check("en [2025]", n_evidence=3).text == "en [2025]"


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=8), st.integers(min_value=0, max_value=10))
def test_only_given_evidence_survives(numbers, n_evidence):
    text = " ".join(f"fait [{n}]" for n in numbers)
    c = check(text, n_evidence)
    assert all(1 <= n <= n_evidence for n in parse(c.text))
    assert set(c.cited) == {n for n in numbers if 1 <= n <= n_evidence}
    assert set(c.dangling) == {n for n in numbers if not 1 <= n <= n_evidence}


@given(st.lists(st.integers(min_value=1, max_value=12), max_size=8))
def test_renumbered_markers_count_from_one_in_order_of_first_appearance(numbers):
    text = " ".join(f"fait {n} [{n}]." for n in numbers)
    shown, order = renumber(text, sorted(set(numbers)))
    assert order == list(dict.fromkeys(numbers))
    first = list(dict.fromkeys(parse(shown)))
    assert first == list(range(1, len(order) + 1))
    assert shown == " ".join(f"fait {n} [{order.index(n) + 1}]." for n in numbers), "each marker keeps its source"
