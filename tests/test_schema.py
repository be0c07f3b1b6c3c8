"""The OpenAPI document is valid, warning-free, and describes every route of the spec."""

import yaml
from django.core.management import call_command


def test_schema_is_valid_and_complete(tmp_path, db):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))

    schema = yaml.safe_load(path.read_text())
    operations = {
        (method, route)
        for route, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    for expected in [
        ("post", "/api/manifests/"),
        ("get", "/api/manifests/"),
        ("get", "/api/manifests/{id}/"),
        ("put", "/api/manifests/{id}/"),
        ("patch", "/api/manifests/{id}/"),
        ("delete", "/api/manifests/{id}/"),
        ("post", "/api/manifests/{id}/duplicate/"),
        ("post", "/api/manifests/{id}/restore/"),
        ("post", "/api/manifests/{manifest_pk}/assets/"),
        ("get", "/api/manifests/{manifest_pk}/assets/"),
        ("get", "/api/assets/{id}/"),
        ("put", "/api/assets/{id}/"),
        ("patch", "/api/assets/{id}/"),
        ("delete", "/api/assets/{id}/"),
        ("post", "/api/assets/{id}/upload/"),
        ("get", "/api/projects/"),
        ("post", "/api/projects/"),
    ]:
        assert expected in operations, expected

    upload = schema["paths"]["/api/assets/{id}/upload/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"200", "400", "404", "413"} <= set(upload["responses"])
    assert "409" in schema["paths"]["/api/manifests/{id}/"]["delete"]["responses"]
    listing = {p["name"] for p in schema["paths"]["/api/manifests/"]["get"]["parameters"]}
    assert {"category", "status", "tag", "search", "ordering", "page", "page_size"} <= listing
