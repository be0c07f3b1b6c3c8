"""Admin pages submitted as a browser submits them.

A test that means "the curator saved the page" GETs the page, lets WebTest collect the form
exactly as a browser would send it (every input with its rendered value, the selected
options, the checked boxes, textareas, the blank extra inline rows, the management form
and the CSRF token), changes only what the curator changes, and presses a button. Nothing
is hand-built: a field the page renders but a test forgot is still sent, as in real life.

The curator signs in through the real login page, so sessions and CSRF are the real ones.
"""

import copy
import io
from collections.abc import Iterable

from django_webtest import DjangoTestApp
from PIL import Image
from webtest import Upload
from webtest.forms import Form

PASSWORD = "a-long-curator-password"
MANIFEST_CHANGELIST = "/admin/manifests/manifest/"
MANIFEST_ADD = f"{MANIFEST_CHANGELIST}add/"


def manifest_url(manifest, page: str = "change") -> str:
    """The address of one of a manifest's admin pages: change, delete, duplicate…"""
    return f"{MANIFEST_CHANGELIST}{manifest.pk}/{page}/"


def change_page(app: DjangoTestApp, manifest):
    """The manifest's change page, as `app` gets it."""
    return app.get(manifest_url(manifest))


def sign_in(app: DjangoTestApp, username: str, password: str = PASSWORD) -> None:
    """Sign in through the admin's login form, as a person does."""
    login = app.get("/admin/login/?next=/admin/")
    form = login.forms["login-form"]
    form["username"] = username
    form["password"] = password
    assert form.submit().status_code == 302, "sign-in failed"


def signed_in_browser(username: str, password: str = PASSWORD) -> DjangoTestApp:
    """A new WebTest browser, signed in as `username`."""
    app = DjangoTestApp()
    sign_in(app, username, password)
    return app


def form_of(page, form_id: str | None = None) -> Form:
    """The page's form (by id, or the admin's change form), with the fields a browser would
    leave out (disabled ones) left out."""
    if form_id is None:
        candidates = [f for key, f in page.forms.items() if isinstance(key, str)]
        change_forms = [f for f in candidates if (f.id or "").endswith("_form")]
        assert len(change_forms) == 1, f"which form? {[f.id for f in candidates]}"
        form = change_forms[0]
    else:
        form = page.forms[form_id]
    return without_disabled_fields(form)


def without_disabled_fields(form: Form) -> Form:
    """Browsers never send a disabled field."""
    for fields in form.fields.values():
        for field in fields:
            if "disabled" in field.attrs:
                field.force_value(None)
    return form


def image_file(name: str = "hero.png", size=(8, 6), color="red", fmt: str = "PNG") -> Upload:
    """A real image, as a file input holds it once the curator picked it."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return Upload(name, buffer.getvalue(), f"image/{fmt.lower()}")


def fill(form: Form, changes: dict) -> None:
    """Set fields as the curator would: a True/False ticks or clears a checkbox."""
    for name, value in changes.items():
        assert name in form.fields, f"the page has no field {name!r}"
        form[name] = value


def form_with_button(page, label: str) -> Form:
    """The page's form that holds the button labelled `label`."""
    forms = [
        form
        for key, form in page.forms.items()
        if isinstance(key, int)
        and any(
            button.get("value") == label or button.get_text(strip=True) == label
            for button in form.html.select("input[type=submit], button")
        )
    ]
    assert len(forms) == 1, f"{len(forms)} forms have a button {label!r}"
    return without_disabled_fields(forms[0])


def press(form: Form, button: str | None = None, **changes):
    """Change `changes` on `form` and press the button named `button` (None: a button
    without a name, which sends nothing of its own); the response."""
    fill(form, changes)
    return form.submit(button)


def save(page, button: str = "_save", **changes):
    """Change `changes` on the page's change form and press `button`; the response."""
    return press(form_of(page), button, **changes)


def add_inline_row(form: Form, prefix: str = "assets") -> int:
    """Press the inline's "Add another" as the admin's inlines.js does: copy the hidden
    `__prefix__` template row under the next index and count it; the new row's index."""
    index = inline_rows(form, prefix)
    template = f"{prefix}-__prefix__-"
    last_pos = max(field.pos for _, field in form.field_order)
    for offset, (name, field) in enumerate(list(form.field_order)):
        if name is None or not name.startswith(template):
            continue
        row_field = copy.copy(field)
        row_field.name = name.replace("__prefix__", str(index))
        row_field.id = (field.id or "").replace("__prefix__", str(index))
        row_field.pos = last_pos + 1 + offset
        form.fields.setdefault(row_field.name, []).append(row_field)
        form.field_order.append((row_field.name, row_field))
    form[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    return index


def inline_rows(form: Form, prefix: str = "assets") -> int:
    """How many inline rows the page rendered (initial and blank extra ones)."""
    return int(form[f"{prefix}-TOTAL_FORMS"].value)


def errors_on(response) -> list:
    """Every error on a re-rendered admin form, to explain a failed assertion."""
    context = response.context
    if context is None or "adminform" not in context:
        return []
    errors = [context["adminform"].form.errors]
    for inline in context.get("inline_admin_formsets", ()):
        errors += [inline.formset.errors, inline.formset.non_form_errors()]
    return [error for error in errors if any(error)]


def messages_on(response) -> list[str]:
    """The texts of the admin's message list on a page."""
    return [li.get_text(" ", strip=True) for li in response.html.select("ul.messagelist li")]


def assert_saved(response, *, then: Iterable[str] = ()) -> None:
    """The admin accepted the page: a redirect, and the next page says so."""
    assert response.status_code == 302, errors_on(response) or messages_on(response)
    following = response.follow()
    for expected in then:
        assert any(expected in message for message in messages_on(following)), messages_on(
            following
        )
