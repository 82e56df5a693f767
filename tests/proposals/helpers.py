"""A tiny calculator project and proposals that break it, shared by the proposals tests."""

from proposals import files, services
from selfheal.models import Project

CALC = """def add(a, b):
    return a + b


def area(r):
    return 3.0 * r * r
"""

TESTS = """from calc import add, area


def test_add():
    assert add(2, 3) == 5


def test_area():
    assert area(1) == 3.0
"""

CALC_WITH_SQRT = (
    CALC
    + """

def hypot(a, b):
    return math.sqrt(a * a + b * b)
"""
)

TEST_HYPOT = """from calc import hypot


def test_hypot():
    assert hypot(3, 4) == 5.0
"""


def calculator_files() -> dict[str, str]:
    return {"calc.py": CALC, "tests/test_calc.py": TESTS}


def load_calculator(project: Project) -> None:
    files.import_files(project, calculator_files(), source="test")


def missing_import_proposal(project: Project, user=None):
    """Uses math.sqrt without importing math: the rules fixer repairs it."""
    return services.create_proposal(
        project,
        "Add hypot",
        [
            services.ChangeSpec("calc.py", "modify", CALC_WITH_SQRT),
            services.ChangeSpec("tests/test_hypot.py", "create", TEST_HYPOT),
        ],
        created_by=user,
    )
