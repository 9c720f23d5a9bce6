"""Hand-written challenger proposals for the tests: one valid task and one of each way to fail."""

SUM_EVEN_SOLUTION = "def sum_even(xs):\n    return sum(x for x in xs if x % 2 == 0)\n"
SUM_EVEN_TESTS = '''def test_basic(candidate):
    assert candidate([1, 2, 3, 4]) == 6

def test_negative_even(candidate):
    assert candidate([-2, 3]) == -2

def test_empty(candidate):
    assert candidate([]) == 0
'''
SUM_EVEN_FAILURES = [
    "def sum_even(xs):\n    return sum(x for x in xs if x % 2 == 1)\n",
    "def sum_even(xs):\n    return sum(x for x in xs if x > 0 and x % 2 == 0)\n",
    "def sum_even(xs):\n    return sum(xs[::2])\n",
]


def tagged(instruction, signature, solution, verification, failures):
    cases = "".join(f"<failure_case>\n```python\n{c}```\n</failure_case>\n" for c in failures)
    return (f"<instruction>{instruction}</instruction>\n<signature>{signature}</signature>\n"
            f"<solution>\n```python\n{solution}```\n</solution>\n"
            f"<verification>\n```python\n{verification}```\n</verification>\n{cases}")


VALID = tagged("Return the sum of the even numbers in a list of integers.", "def sum_even(xs: list[int]) -> int",
               SUM_EVEN_SOLUTION, SUM_EVEN_TESTS, SUM_EVEN_FAILURES)

SQUARE_SOLUTION = "def square_all(xs):\n    return [x * x for x in xs]\n"
VALID_2 = tagged("Square every number in a list.", "def square_all(xs: list[int]) -> list[int]", SQUARE_SOLUTION,
                 "def test_basic(candidate):\n    assert candidate([1, -2, 3]) == [1, 4, 9]\n\n"
                 "def test_empty(candidate):\n    assert candidate([]) == []\n",
                 ["def square_all(xs):\n    return [x * 2 for x in xs]\n",
                  "def square_all(xs):\n    return [abs(x) for x in xs]\n",
                  "def square_all(xs):\n    return [x * x for x in xs[1:]]\n"])

WEAK_TESTS = tagged("Return the sum of the even numbers in a list of integers.", "def sum_even(xs: list[int]) -> int",
                    SUM_EVEN_SOLUTION, "def test_basic(candidate):\n    assert candidate([1, 2, 3, 4]) == 6\n",
                    SUM_EVEN_FAILURES)

WRONG_SOLUTION = tagged("Return the largest number in a non-empty list.", "def biggest(xs: list[int]) -> int",
                        "def biggest(xs):\n    return xs[0]\n",
                        "def test_basic(candidate):\n    assert candidate([1, 5, 2]) == 5\n",
                        ["def biggest(xs):\n    return min(xs)\n", "def biggest(xs):\n    return xs[-1]\n",
                         "def biggest(xs):\n    return sorted(xs)[0]\n"])

BROKEN_VERIFICATION = tagged("Return the largest number in a non-empty list.", "def biggest(xs: list[int]) -> int",
                             "def biggest(xs):\n    return max(xs)\n",
                             "def test_basic(candidate):\n    assert candidate([1, 5, 2]) == 5\n\ndef test_x(candidate:\n",
                             ["def biggest(xs):\n    return min(xs)\n", "def biggest(xs):\n    return xs[-1]\n",
                              "def biggest(xs):\n    return sorted(xs)[0]\n"])

UNREADABLE = "Here is a nice task: write a function that adds numbers."
