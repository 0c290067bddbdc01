// Modals (views.open / views.push / views.update): the topmost open view of the person acting,
// with its inputs, and the errors the bot answered a submission with (response_action=errors).

import { el, renderBlocks } from "./blocks.js";

function inputElement(block, values, state) {
  const elem = block.element || {};
  const id = `${block.block_id}.${elem.action_id}`;
  const read = {};
  let control;
  if (elem.type === "static_select" || elem.type === "users_select" || elem.type === "conversations_select" || elem.type === "channels_select") {
    control = el("select", "input-control");
    const blank = el("option", null, (elem.placeholder || {}).text || "Choose…");
    blank.value = "";
    const options = elem.type === "static_select"
      ? (elem.options || []).map((o) => [o.value, o.text.text])
      : elem.type === "users_select"
        ? state.users.filter((u) => !u.is_bot).map((u) => [u.id, u.real_name])
        : state.channels.filter((c) => !c.is_im).map((c) => [c.id, c.label]);
    control.append(blank, ...options.map(([value, label]) => {
      const option = el("option", null, label);
      option.value = value;
      return option;
    }));
    const initial = elem.initial_option ? elem.initial_option.value : elem.initial_user || elem.initial_conversation || elem.initial_channel || "";
    control.value = initial;
    read.get = () => control.value || null;
  } else if (elem.type === "checkboxes" || elem.type === "radio_buttons") {
    control = el("div", "input-choices");
    const kind = elem.type === "checkboxes" ? "checkbox" : "radio";
    const boxes = (elem.options || []).map((o) => {
      const label = el("label", "choice");
      const input = el("input");
      input.type = kind;
      input.name = id;
      input.value = o.value;
      label.append(input, document.createTextNode(" " + o.text.text));
      control.append(label);
      return input;
    });
    read.get = () => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      return kind === "checkbox" ? chosen : chosen[0] || null;
    };
  } else {
    control = elem.multiline ? el("textarea", "input-control") : el("input", "input-control");
    if (elem.type === "number_input") control.type = "number";
    if (elem.type === "datepicker") control.type = "date";
    control.placeholder = (elem.placeholder || {}).text || "";
    control.value = elem.initial_value || elem.initial_date || "";
    read.get = () => (control.value.trim() === "" ? null : control.value);
  }
  control.dataset.actionId = elem.action_id || "";
  values.push({ block: block.block_id, action: elem.action_id, read });
  return control;
}

// Draws the modal unless it is the one already shown (same view, version and errors), so what
// the person typed survives every refresh of the page; returns the key of what is shown.
export function renderModal(page) {
  const { state, user, ctxBase, act } = page;
  const overlay = document.getElementById("modal");
  const views = state.views.filter((v) => v.user === user);
  const view = views[views.length - 1];
  const key = view ? `${view.id}:${view.hash}:${JSON.stringify(view.errors)}` : null;
  overlay.hidden = !view;
  if (key === page.key || !view) return key;
  const values = [];
  const ctx = {
    ...ctxBase,
    button: (element) => el("button", "btn", (element.text || {}).text || ""),
    input(block) {
      const box = el("div", "input-block");
      box.dataset.blockId = block.block_id;
      box.append(el("label", "input-label", `${(block.label || {}).text || ""}${block.optional ? " (optional)" : ""}`));
      box.append(inputElement(block, values, page.state));
      if (block.hint) box.append(el("div", "input-hint", block.hint.text));
      const error = view.errors[block.block_id];
      if (error) box.append(el("div", "input-error", error));
      return box;
    },
  };
  const dialog = document.getElementById("modal-dialog");
  const title = el("div", "modal-title", ((view.view.title || {}).text) || "");
  const body = el("div", "modal-body");
  body.append(renderBlocks(view.view.blocks, ctx));
  const footer = el("div", "modal-footer");
  const cancel = el("button", "btn", ((view.view.close || {}).text) || "Cancel");
  cancel.onclick = () => act({ action: "close", view_id: view.id });
  footer.append(cancel);
  if (view.view.submit) {
    const submit = el("button", "btn btn-primary modal-submit", view.view.submit.text);
    submit.onclick = async () => {
      const state = {};
      values.forEach((v) => {
        state[v.block] = state[v.block] || {};
        state[v.block][v.action] = v.read.get();
      });
      submit.disabled = true;
      try {
        await act({ action: "submit", view_id: view.id, values: state });
      } finally {
        submit.disabled = false;
      }
    };
    footer.append(submit);
  }
  dialog.replaceChildren(title, body, footer);
  return key;
}
