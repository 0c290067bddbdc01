// The web workspace: renders /web/state, re-fetches it on every server-sent `change`, and sends
// what the person does to /web/act (the stand-in turns it into the signed payload Slack sends).

import { el, emoji, mrkdwn, renderAttachments, renderBlocks } from "./blocks.js";
import { renderModal as drawModal } from "./modal.js";

const ui = {
  state: null,
  user: localStorage.getItem("localslack.user") || "U0ONCALL",
  channel: localStorage.getItem("localslack.channel") || "C0ONCALL",
  thread: null, // ts of the open thread
  inspector: false,
  modalKey: null,
};

const $ = (id) => document.getElementById(id);

// --- talking to the stand-in -------------------------------------------------------------------
let fetching = false;
let dirty = false;

async function refresh() {
  if (fetching) {
    dirty = true;
    return;
  }
  fetching = true;
  try {
    do {
      dirty = false;
      const response = await fetch("/web/state", { cache: "no-store" });
      ui.state = await response.json();
      render();
    } while (dirty);
  } catch (err) {
    status(`cannot reach the stand-in: ${err}`, true);
  } finally {
    fetching = false;
  }
}

async function act(body) {
  const response = await fetch("/web/act", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: ui.user, ...body }),
  });
  const answer = await response.json();
  if (!answer.ok) status(explain(answer), true);
  return answer;
}

function explain(answer) {
  if (answer.error === "no_socket_connection") return "no bot is connected to this workspace";
  if (answer.timed_out) return "the bot did not acknowledge in time (Slack shows: operation_timeout)";
  if (answer.error) return answer.error;
  return `the bot answered HTTP ${answer.status}`;
}

function status(text, isError = false) {
  const line = $("status");
  line.textContent = text;
  line.className = isError ? "status error" : "status";
}

function connect() {
  const events = new EventSource("/web/events");
  events.addEventListener("change", () => refresh());
  events.onerror = () => status("live updates interrupted; retrying…", true);
  events.onopen = () => status("");
}

// --- lookups ------------------------------------------------------------------------------------
function user(id) {
  return (ui.state.users || []).find((u) => u.id === id);
}

function userName(id) {
  const found = user(id);
  return found ? found.name : id;
}

function channelName(id) {
  const found = (ui.state.channels || []).find((c) => c.id === id);
  return found ? found.name : id;
}

const ctxBase = { userName, channelName };

function dmId(userId) {
  return "D" + userId.slice(1);
}

function visible(message) {
  return !message.ephemeral || message.visible_to === ui.user;
}

// --- rendering ----------------------------------------------------------------------------------
function renderModal() {
  ui.modalKey = drawModal({ state: ui.state, user: ui.user, key: ui.modalKey, ctxBase, act });
}

function render() {
  renderUsers();
  renderSidebar();
  renderChannel();
  renderThread();
  renderModal();
  renderInspector();
  $("jobs").hidden = !ui.state.jobs_hook;
}

function renderUsers() {
  const select = $("user");
  const people = ui.state.users.filter((u) => !u.is_bot);
  const key = people.map((u) => u.id).join(",");
  if (select.dataset.key !== key) {
    select.replaceChildren(
      ...people.map((u) => {
        const option = el("option", null, `${u.real_name}${u.title ? ` (${u.title})` : ""}`);
        option.value = u.id;
        return option;
      }),
    );
    select.dataset.key = key;
  }
  if (!people.some((u) => u.id === ui.user)) ui.user = people[0].id;
  select.value = ui.user;
}

function sidebarItem(id, label, unread) {
  const item = el("li", id === ui.channel ? "channel active" : "channel");
  item.dataset.channel = id;
  item.append(el("span", null, label));
  if (unread) item.append(el("span", "badge", unread));
  item.onclick = () => {
    ui.channel = id;
    ui.thread = null;
    localStorage.setItem("localslack.channel", id);
    render();
  };
  return item;
}

function renderSidebar() {
  const channels = ui.state.channels.filter((c) => !c.is_im && !c.is_mpim);
  $("channels").replaceChildren(...channels.map((c) => sidebarItem(c.id, c.label)));
  const dms = ui.state.channels.filter((c) => (c.is_im || c.is_mpim) && c.members.includes(ui.user));
  const items = dms.map((c) => sidebarItem(c.id, c.is_im ? "oncall-bot" : c.name));
  if (!dms.some((c) => c.id === dmId(ui.user))) items.unshift(sidebarItem(dmId(ui.user), "oncall-bot"));
  $("dms").replaceChildren(...items);
}

function messageCtx(message) {
  let count = 0;
  return {
    ...ctxBase,
    button(element) {
      count += 1;
      const index = count;
      const button = el("button", `btn ${element.style ? "btn-" + element.style : ""}`, (element.text || {}).text || "");
      button.dataset.actionId = element.action_id || "";
      button.onclick = async () => {
        button.disabled = true;
        try {
          await act({ action: "click", ts: message.ts, index });
        } finally {
          button.disabled = false;
        }
      };
      return button;
    },
  };
}

function renderMessage(message, { inThread = false } = {}) {
  const box = el("div", "msg");
  box.dataset.ts = message.ts;
  if (message.ephemeral) box.classList.add("ephemeral");
  const head = el("div", "msg-head");
  const author = user(message.user);
  head.append(el("span", "author", author ? author.real_name : message.user));
  if (author && author.is_bot) head.append(el("span", "app-tag", "APP"));
  head.append(el("span", "time", new Date(parseFloat(message.ts) * 1000).toLocaleTimeString()));
  if (message.edited) head.append(el("span", "edited", "(edited)"));
  if (message.reactions.pushpin) head.append(el("span", "pinned", "📌 Pinned"));
  box.append(head);
  const ctx = messageCtx(message);
  if (message.blocks && message.blocks.length) box.append(renderBlocks(message.blocks, ctx));
  else if (message.text) box.append(mrkdwn(message.text, ctx));
  if (message.attachments && message.attachments.length) box.append(renderAttachments(message.attachments, ctx));
  message.files.forEach((file) => box.append(renderFile(file)));
  if (message.ephemeral) box.append(el("div", "only-you", "Only visible to you"));
  box.append(renderReactions(message));
  if (!inThread && !message.ephemeral) {
    const replies = ui.state.messages.filter((m) => m.is_reply && m.thread_ts === message.ts && visible(m));
    if (replies.length) {
      const link = el("a", "thread-link", `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`);
      link.onclick = () => openThread(message.ts);
      box.append(link);
    }
  }
  if (!message.ephemeral) box.append(messageTools(message, inThread));
  return box;
}

function renderFile(file) {
  const box = el("div", "file");
  if (file.image && file.url) {
    const img = el("img", "file-image");
    img.src = file.url;
    img.alt = file.title;
    const link = el("a");
    link.href = file.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.append(img);
    box.append(el("div", "file-title", file.title), link);
  } else {
    const link = el("a", "file-link", `📎 ${file.title}`);
    if (file.url) link.href = file.url;
    box.append(link);
  }
  return box;
}

function renderReactions(message) {
  const box = el("div", "reactions");
  Object.entries(message.reactions).forEach(([name, users]) => {
    const chip = el("button", users.includes(ui.user) ? "reaction mine" : "reaction", `${emoji(name)} ${users.length}`);
    chip.title = users.map(userName).join(", ");
    chip.onclick = () => act({ action: "react", channel: message.channel, ts: message.ts, name });
    box.append(chip);
  });
  return box;
}

function messageTools(message, inThread) {
  const tools = el("div", "msg-tools");
  const react = el("button", "tool", "👀");
  react.title = "React with :eyes:";
  react.onclick = () => act({ action: "react", channel: message.channel, ts: message.ts, name: "eyes" });
  const pin = el("button", "tool", "📌");
  pin.title = "Pin (react with :pushpin:)";
  pin.onclick = () => act({ action: "react", channel: message.channel, ts: message.ts, name: "pushpin" });
  tools.append(react, pin);
  if (!inThread) {
    const reply = el("button", "tool", "💬");
    reply.title = "Reply in thread";
    reply.onclick = () => openThread(message.thread_ts || message.ts);
    tools.append(reply);
  }
  return tools;
}

function openThread(ts) {
  ui.thread = ts;
  render();
  $("thread-input").focus();
}

function keepScroll(container, fill) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  const previous = container.scrollTop;
  fill();
  container.scrollTop = atBottom ? container.scrollHeight : previous;
}

function renderChannel() {
  const list = $("messages");
  const channel = ui.state.channels.find((c) => c.id === ui.channel);
  $("channel-title").textContent = channel ? (channel.is_im ? "oncall-bot" : channel.label) : "oncall-bot";
  const messages = ui.state.messages.filter(
    (m) => m.channel === ui.channel && (!m.is_reply || m.broadcast) && visible(m),
  );
  keepScroll(list, () => {
    list.replaceChildren(...messages.map((m) => renderMessage(m)));
    if (!messages.length) list.append(el("div", "empty", "No messages yet. Try /iris help below."));
  });
}

function renderThread() {
  const pane = $("thread");
  pane.hidden = !ui.thread;
  if (!ui.thread) return;
  const parent = ui.state.messages.find((m) => m.ts === ui.thread);
  const replies = ui.state.messages.filter((m) => m.is_reply && m.thread_ts === ui.thread && visible(m));
  keepScroll($("thread-messages"), () => {
    const items = parent ? [renderMessage(parent, { inThread: true })] : [];
    items.push(el("div", "thread-count", `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`));
    items.push(...replies.map((m) => renderMessage(m, { inThread: true })));
    $("thread-messages").replaceChildren(...items);
  });
}

// --- inspector ----------------------------------------------------------------------------------
function entry(summary, detail, failed) {
  const item = el("details", failed ? "call failed" : "call");
  item.append(el("summary", null, summary), el("pre", null, JSON.stringify(detail, null, 2)));
  return item;
}

function renderInspector() {
  const pane = $("inspector");
  pane.hidden = !ui.inspector;
  if (!ui.inspector) return;
  const open = new Set([...pane.querySelectorAll("details[open]")].map((d) => d.dataset.key));
  const calls = ui.state.api_calls.slice(-80).reverse().map((c, i) => {
    const item = entry(`${c.status} ${c.method}${c.error ? " → " + c.error : ""}`, c.params, c.status !== 200);
    item.dataset.key = `api${ui.state.api_calls.length - i}`;
    return item;
  });
  const deliveries = ui.state.deliveries.slice().reverse().map((d) => {
    const item = entry(`#${d.id} ${d.action} → ${d.status}${d.error ? " " + d.error : ""} (${d.latency_ms} ms)`, { request: d.request, ack: d.ack }, d.status !== 200);
    item.dataset.key = `d${d.id}`;
    return item;
  });
  [...calls, ...deliveries].forEach((d) => { if (open.has(d.dataset.key)) d.open = true; });
  $("api-calls").replaceChildren(...calls);
  $("deliveries").replaceChildren(...deliveries);
}

// --- input --------------------------------------------------------------------------------------
async function send(text, threadTs) {
  const line = text.trim();
  if (!line) return;
  const target = ui.channel === dmId(ui.user) ? "oncall-bot" : ui.channel;
  if (line.startsWith("/") && !threadTs) {
    const [command, ...rest] = line.split(" ");
    await act({ action: "slash", channel: target, command, text: rest.join(" ").trim() });
  } else {
    await act({ action: "message", channel: target, text: line, thread_ts: threadTs || null });
  }
}

function composer(formId, inputId, threadOf) {
  $(formId).onsubmit = async (event) => {
    event.preventDefault();
    const input = $(inputId);
    const text = input.value;
    input.value = "";
    status("");
    await send(text, threadOf());
  };
}

function setup() {
  $("user").onchange = (event) => {
    ui.user = event.target.value;
    localStorage.setItem("localslack.user", ui.user);
    ui.modalKey = null;
    render();
  };
  composer("composer", "composer-input", () => null);
  composer("thread-composer", "thread-input", () => ui.thread);
  $("thread-close").onclick = () => {
    ui.thread = null;
    render();
  };
  $("toggle-inspector").onclick = () => {
    ui.inspector = !ui.inspector;
    render();
  };
  $("jobs").onsubmit = async (event) => {
    event.preventDefault();
    const minutes = parseInt($("jobs-minutes").value, 10);
    const response = await fetch("/web/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ minutes }),
    });
    const answer = await response.json();
    if (!answer.ok) status(answer.error || "the bot refused", true);
    else {
      const names = answer.ran.map((j) => `${j.name} (${j.id})`).join(", ");
      status(answer.ran.length ? `Ran ${answer.ran.length} due job(s): ${names}` : `Nothing due in the next ${answer.minutes} minutes`);
    }
  };
  connect();
  refresh();
}

setup();
