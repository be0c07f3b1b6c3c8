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
        ("get", "/api/manifests/{manifest_pk}/versions/"),
        ("post", "/api/manifests/{manifest_pk}/versions/"),
        ("get", "/api/manifests/{manifest_pk}/versions/{number}/"),
        ("get", "/api/manifests/{manifest_pk}/versions/{number}/assets/{tag}/"),
        ("get", "/api/manifests/{manifest_pk}/versions/{number}/diff/"),
        ("post", "/api/manifests/{manifest_pk}/versions/{number}/duplicate/"),
        ("get", "/api/projects/{id}/manifest/"),
        ("get", "/api/projects/{id}/assets/{tag}/"),
        ("post", "/api/projects/{id}/upgrade/"),
    ]:
        assert expected in operations, expected

    upload = schema["paths"]["/api/assets/{id}/upload/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"200", "400", "404", "413"} <= set(upload["responses"])
    assert "409" in schema["paths"]["/api/manifests/{id}/"]["delete"]["responses"]
    version = schema["paths"]["/api/manifests/{manifest_pk}/versions/{number}/"]["get"]
    assert {"200", "304", "404"} <= set(version["responses"])
    assert {"ETag", "Cache-Control"} <= set(version["responses"]["200"]["headers"])
    assert "If-None-Match" in {p["name"] for p in version["parameters"]}
    branch = schema["paths"]["/api/manifests/{manifest_pk}/versions/{number}/duplicate/"]["post"]
    assert {"201", "404", "409"} <= set(branch["responses"])
    listing = {p["name"] for p in schema["paths"]["/api/manifests/"]["get"]["parameters"]}
    assert {"category", "status", "tag", "search", "ordering", "page", "page_size"} <= listing
