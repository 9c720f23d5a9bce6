"""Web navigation: simulated pages (``selfgym/Web-<task>-v0``) behind the same interface as the
real MiniWoB++ tasks in Chromium (``selfgym/MiniWoB-<task>-v0``, see ``selfgym.envs.miniwob``).

Importing this package stays cheap: the task names are listed here without importing the task
modules, so registration costs nothing.
"""

# Kept in sync with selfgym.envs.web.tasks.TASKS (tests/web checks it).
SIM_TASKS = (
    "ask-followup", "book-flight", "choose-list", "click-button", "click-button-sequence",
    "click-checkboxes", "click-collapsible", "click-dialog", "click-link", "click-menu",
    "click-option", "click-scroll-list", "click-tab", "email-inbox-delete", "email-inbox-forward",
    "email-inbox-reply", "email-inbox-star", "enter-date", "enter-password", "enter-text",
    "fill-form", "find-word", "focus-text", "login-user", "navigate-tree", "read-table",
    "search-engine", "social-media", "social-media-all", "use-autocomplete", "wait-button",
)


def register_envs(register, register_pettingzoo):
    register(
        "selfgym/Web-v0",
        "selfgym.envs.web.env:SimWebEnv",
        family="web",
        description=f"Simulated web navigation: any of {len(SIM_TASKS)} seeded tasks per episode.",
    )
    for name in SIM_TASKS:
        register(
            f"selfgym/Web-{name}-v0",
            "selfgym.envs.web.env:SimWebEnv",
            family="web",
            description=f"Simulated web task {name} (pure Python page model, oracle included).",
            kwargs={"task": name},
        )
