/* The manifest page's drop zone: images dropped on it (or chosen in its file input) are
   posted to the bulk upload view, at most data-max-files per request, and each file's line
   shows its progress, then its tag or why it was refused. When every file was added the
   page reloads, so the inline shows the new assets; when some were refused their reasons
   stay on screen, with a button to reload. Without this script the form posts as it is. */
(function () {
    "use strict";

    const form = document.getElementById("bulk-upload-form");
    if (!form || !window.FormData || !window.XMLHttpRequest) {
        return;
    }
    const zone = document.getElementById("bulk-drop-zone");
    const input = form.querySelector("input[type=file]");
    const typeSelect = form.querySelector("select[name=asset_type]");
    const results = document.getElementById("bulk-results");
    const summary = document.getElementById("bulk-summary");
    const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    const maxFiles = parseInt(form.dataset.maxFiles, 10) || 1;
    const maxBytes = parseInt(form.dataset.maxBytes, 10) || Infinity;
    let busy = false;

    form.classList.add("vidpipe-enhanced");

    function fileLine(file) {
        const item = document.createElement("li");
        const name = document.createElement("span");
        name.className = "vidpipe-file-name";
        name.textContent = file.name;
        const status = document.createElement("span");
        status.className = "vidpipe-file-status";
        item.append(name, ": ", status);
        results.append(item);
        return item;
    }

    function show(entry, text, state) {
        entry.item.className = state ? "vidpipe-" + state : "";
        entry.item.querySelector(".vidpipe-file-status").textContent = text;
        entry.done = state === "added" || state === "refused";
    }

    // One request for a batch of files; progress is shown per file from the bytes sent.
    function send(batch) {
        return new Promise(function (resolve, reject) {
            const data = new FormData();
            data.append("csrfmiddlewaretoken", token);
            data.append("asset_type", typeSelect.value);
            batch.forEach(function (entry) {
                data.append("files", entry.file, entry.file.name);
            });
            const request = new XMLHttpRequest();
            request.open("POST", form.action);
            request.setRequestHeader("Accept", "application/json");
            request.upload.addEventListener("progress", function (event) {
                let start = 0;
                batch.forEach(function (entry) {
                    const end = start + entry.file.size;
                    if (event.loaded >= end) {
                        show(entry, "sent, being checked…", "sent");
                    } else if (event.loaded > start) {
                        const percent = Math.floor((100 * (event.loaded - start)) / entry.file.size);
                        show(entry, "uploading " + percent + "%", "uploading");
                    }
                    start = end;
                });
            });
            request.addEventListener("load", function () {
                let answer = null;
                try {
                    answer = JSON.parse(request.responseText);
                } catch (error) {
                    answer = null;
                }
                if (answer && (answer.created || answer.refused)) {
                    resolve(answer);
                } else {
                    reject(new Error("the server answered " + request.status + " " + request.statusText));
                }
            });
            request.addEventListener("error", function () {
                reject(new Error("the server could not be reached"));
            });
            batch.forEach(function (entry) {
                show(entry, "waiting…", "waiting");
            });
            request.send(data);
        });
    }

    async function upload(files) {
        if (busy || !files.length) {
            return;
        }
        busy = true;
        results.replaceChildren();
        summary.textContent = "";
        const entries = Array.from(files).map(function (file) {
            return {file: file, item: fileLine(file), done: false};
        });
        const megabytes = (maxBytes / 1024 / 1024).toFixed(1);
        const toSend = entries.filter(function (entry) {
            if (entry.file.size > maxBytes) {
                show(entry, "not added: larger than the limit of " + megabytes + " MB", "refused");
                return false;
            }
            return true;
        });
        let added = 0;
        let refused = entries.length - toSend.length;
        for (let first = 0; first < toSend.length; first += maxFiles) {
            const batch = toSend.slice(first, first + maxFiles);
            try {
                const answer = await send(batch);
                answer.created.forEach(function (asset) {
                    show(batch[asset.index], "added as " + asset.tag + " “" + asset.name + "”", "added");
                });
                answer.refused.forEach(function (file) {
                    show(batch[file.index], "not added: " + file.reason, "refused");
                });
                added += answer.created.length;
                refused += answer.refused.length;
                batch.forEach(function (entry) {
                    if (!entry.done) {
                        show(entry, "not added: " + (answer.error || "no answer for this file"), "refused");
                        refused += 1;
                    }
                });
            } catch (error) {
                batch.forEach(function (entry) {
                    show(entry, "not added: " + error.message, "refused");
                });
                refused += batch.length;
            }
        }
        busy = false;
        input.value = "";
        summary.textContent = "Added " + added + ", refused " + refused + ".";
        if (added && !refused) {
            summary.textContent += " Reloading…";
            window.location.reload();
        } else if (added) {
            const reload = document.createElement("button");
            reload.type = "button";
            reload.className = "button";
            reload.id = "bulk-reload";
            reload.textContent = "Show the new assets";
            reload.addEventListener("click", function () {
                window.location.reload();
            });
            summary.append(" ", reload);
        }
    }

    input.addEventListener("change", function () {
        upload(input.files);
    });
    zone.addEventListener("dragover", function (event) {
        event.preventDefault();
        zone.classList.add("vidpipe-dragging");
    });
    zone.addEventListener("dragleave", function () {
        zone.classList.remove("vidpipe-dragging");
    });
    zone.addEventListener("drop", function (event) {
        event.preventDefault();
        zone.classList.remove("vidpipe-dragging");
        upload(event.dataTransfer.files);
    });
    form.addEventListener("submit", function (event) {
        event.preventDefault();
        upload(input.files);
    });
}());
