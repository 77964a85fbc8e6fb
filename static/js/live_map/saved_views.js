// Saved views: the picker, save / make default / delete / undo (mixed into the page).

import { $ } from "./dom.js";
import { plateCollator } from "./format.js";
import { normalizeFilters } from "./filters.js";
import { sendJson, urlFor } from "./http.js";

export class SavedViewMethods {
  _buildViews() {
    this.viewSelect = $("saved-view-select");
    this._renderViewOptions();
    this.viewSelect.addEventListener("change", () => {
      const view = this.views.find((v) => String(v.id) === this.viewSelect.value);
      if (view) {
        this._applyView(view, { subscribe: true });
      } else {
        this.currentViewId = null;
        this._updateViewControls();
      }
    });
    $("save-view").addEventListener("click", () => this._openViewDialog());
    $("view-save-cancel").addEventListener("click", () => this._closeViewDialog());
    $("view-save-confirm").addEventListener("click", () => this._saveView());
    $("view-name").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this._saveView();
      }
    });
    $("view-make-default").addEventListener("click", () => this._makeDefault());
    $("view-delete").addEventListener("click", () => this._deleteView());
    this._updateViewControls();
  }

  _renderViewOptions() {
    const select = this.viewSelect;
    select.innerHTML = "";
    select.append(new Option("Unsaved view", ""));
    const mine = this.views.filter((v) => v.mine);
    const shared = this.views.filter((v) => !v.mine);
    const byName = (a, b) => plateCollator.compare(a.name, b.name);
    const addGroup = (label, list) => {
      if (!list.length) {
        return;
      }
      const group = document.createElement("optgroup");
      group.label = label;
      for (const view of list.sort(byName)) {
        const marks = [view.is_default ? "★ " : "", view.name, view.mine && view.shared ? " (shared)" : ""];
        group.append(new Option(marks.join(""), String(view.id)));
      }
      select.append(group);
    };
    addGroup("My views", mine);
    addGroup("Shared with the team", shared);
    select.value = this.currentViewId === null ? "" : String(this.currentViewId);
  }

  _applyView(view, { subscribe }) {
    this.currentViewId = view.id;
    this._writeFilters(view.filters || {}, view.refresh_seconds);
    this._rememberBaseline(view);
    this.viewSelect.value = String(view.id);
    this._renderConnection();
    if (subscribe) {
      this._resubscribe();
    }
    this._updateViewControls();
  }

  _viewKey(filters, interval) {
    return JSON.stringify([filters, Number(interval)]);
  }

  // The screen a view produced when it was applied or saved: "modified" compares with that, not
  // with the stored filters, which this user's form may not be able to show as saved (a teammate's
  // hubs outside this user's, a zone id as a string, an interval the picker lacks). Compared with
  // the stored filters, such a shared view opened already "modified".
  _rememberBaseline(view) {
    this.viewBaselines.set(view.id, this._viewKey(this.currentFilters(), this.interval));
  }

  _updateViewControls() {
    const view = this.views.find((v) => v.id === this.currentViewId) || null;
    $("view-make-default").disabled = !view || Boolean(view.is_default);
    $("view-delete").disabled = !view || !view.mine;
    $("view-delete").title = view && !view.mine ? "Only its owner can delete a shared view" : "";
    const baseline =
      view === null
        ? null
        : this.viewBaselines.get(view.id) ||
          this._viewKey(this._normalizedFilters(view.filters), view.refresh_seconds);
    const modified = view !== null && baseline !== this._viewKey(this.currentFilters(), this.interval);
    $("view-modified").hidden = !modified;
    this._writeUrl();
  }

  // A saved filter as currentFilters() would produce it (filters.js).
  _normalizedFilters(filters) {
    return normalizeFilters(filters, this.hubsById);
  }

  _openViewDialog() {
    const dialog = $("view-dialog");
    const current = this.views.find((v) => v.id === this.currentViewId);
    $("view-name").value = current && current.mine ? current.name : "";
    $("view-shared").checked = Boolean(current && current.mine && current.shared);
    $("view-default").checked = false;
    $("view-dialog-error").hidden = true;
    dialog.hidden = false;
    $("save-view").setAttribute("aria-expanded", "true");
    $("view-name").focus();
    $("view-name").select();
  }

  _closeViewDialog() {
    $("view-dialog").hidden = true;
    $("save-view").setAttribute("aria-expanded", "false");
  }

  async _saveView() {
    const name = $("view-name").value.trim();
    const error = $("view-dialog-error");
    if (!name) {
      error.textContent = "Give the view a name.";
      error.hidden = false;
      $("view-name").focus();
      return;
    }
    if (!this.config.viewsUrl) {
      error.textContent = "Saving views is not available here.";
      error.hidden = false;
      return;
    }
    const confirm = $("view-save-confirm");
    confirm.disabled = true;
    try {
      const view = await sendJson(this.config.viewsUrl, "POST", {
        name,
        shared: $("view-shared").checked,
        filters: this.currentFilters(),
        refresh_seconds: this.interval,
        make_default: $("view-default").checked,
      });
      this._rememberBaseline(view); // saved from the screen as it is
      this._rememberView(view);
      this._closeViewDialog();
      this._toast(`Saved view “${view.name}”.`);
    } catch (failure) {
      error.textContent = failure.message || "Couldn't save the view.";
      error.hidden = false;
    } finally {
      confirm.disabled = false;
    }
  }

  _rememberView(view) {
    if (view.is_default) {
      for (const other of this.views) {
        other.is_default = false;
      }
    }
    const at = this.views.findIndex((v) => v.id === view.id);
    if (at >= 0) {
      this.views[at] = view;
    } else {
      this.views.push(view);
    }
    this.currentViewId = view.id;
    this._renderViewOptions();
    this._updateViewControls();
  }

  async _makeDefault() {
    const view = this.views.find((v) => v.id === this.currentViewId);
    if (!view) {
      return;
    }
    try {
      const updated = await sendJson(urlFor(this.config.viewUrlTemplate, view.id), "POST", {
        make_default: true,
      });
      this._rememberView(Object.assign({}, view, updated || {}, { is_default: true }));
      this._toast(`“${view.name}” opens by default now.`);
    } catch (failure) {
      this._toast(failure.message || "Couldn't make the view the default.");
    }
  }

  async _deleteView() {
    const view = this.views.find((v) => v.id === this.currentViewId);
    if (!view || !view.mine) {
      return;
    }
    try {
      await sendJson(urlFor(this.config.viewUrlTemplate, view.id), "DELETE");
    } catch (failure) {
      this._toast(failure.message || "Couldn't delete the view.");
      return;
    }
    this.views = this.views.filter((v) => v.id !== view.id);
    this.currentViewId = null;
    this._renderViewOptions();
    this._updateViewControls();
    // Undo re-creates it: the filters on screen are still the view's.
    this._toast(`Deleted view “${view.name}”.`, "Undo", async () => {
      try {
        const restored = await sendJson(this.config.viewsUrl, "POST", {
          name: view.name,
          shared: view.shared,
          filters: view.filters,
          refresh_seconds: view.refresh_seconds,
          make_default: Boolean(view.is_default),
        });
        this._rememberView(restored);
        this._toast(`Restored view “${restored.name}”.`);
      } catch (failure) {
        this._toast(failure.message || "Couldn't restore the view.");
      }
    });
  }
}
