// Block Kit and mrkdwn -> DOM, the way Slack's client shows them.
//
// Safety rule of this file: every string from a message goes into the page through
// textContent or a DOM attribute, never through innerHTML; links are made only for http(s)
// URLs. A message saying <script> therefore shows the word, and runs nothing.

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", eyes: "👀",
  pushpin: "📌", rotating_light: "🚨", fire: "🔥", "+1": "👍", thumbsup: "👍", "-1": "👎",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", rocket: "🚀", red_circle: "🔴",
  large_green_circle: "🟢", large_yellow_circle: "🟡", green_circle: "🟢", yellow_circle: "🟡",
  white_circle: "⚪", arrows_counterclockwise: "🔄", memo: "📝", bell: "🔔", chart_with_upwards_trend: "📈",
  chart_with_downwards_trend: "📉", no_entry: "⛔", lock: "🔒", information_source: "ℹ️",
  heavy_minus_sign: "➖", black_circle: "⚫", tada: "🎉", wave: "👋", mag: "🔍",
  raised_hand: "✋", fast_forward: "⏩", no_entry_sign: "🚫", grey_question: "❔",
  large_orange_circle: "🟠", large_red_circle: "🔴", white_large_square: "⬜", clock1: "🕐",
  alarm_clock: "⏰", arrow_forward: "▶️", arrow_right: "➡️", busts_in_silhouette: "👥",
  checkered_flag: "🏁", construction: "🚧", inbox_tray: "📥", large_blue_circle: "🔵",
  leftwards_arrow_with_hook: "↩️", mega: "📣", no_bell: "🔕", outbox_tray: "📤",
  page_facing_up: "📄", rewind: "⏪", sparkles: "✨", stopwatch: "⏱️", technologist: "🧑‍💻",
  wastebasket: "🗑️", zzz: "💤",
};

export function emoji(name) {
  return EMOJI[name] || `:${name}:`;
}

export function safeUrl(url) {
  // Only http(s) links open; javascript:, data: and the rest are shown as plain text.
  return /^https?:\/\//i.test(String(url || "").trim()) ? String(url).trim() : null;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function unescapeSlack(text) {
  // Slack sends &, < and > escaped; turn them back into characters for textContent.
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function withEmoji(text) {
  return text.replace(/:([a-z0-9_+\-]+):/g, (whole, name) => (EMOJI[name] ? EMOJI[name] : whole));
}

// Bold, italic and strike only around words, as in Slack: snake_case and __x__ stay as typed.
const INLINE = /(<[^<>\n]+>)|(`[^`\n]+`)|((?<!\w)\*[^*\n]+\*(?!\w))|((?<!\w)_[^_\n]+_(?!\w))|((?<!\w)~[^~\n]+~(?!\w))/;

function angle(token, ctx) {
  const inner = token.slice(1, -1);
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) return el("span", "mention", "@" + ctx.userName(target.slice(1)));
  if (target.startsWith("#")) return el("span", "mention", "#" + (label || ctx.channelName(target.slice(1))));
  if (target.startsWith("!")) {
    const word = target.slice(1).split("^")[0];
    return el("span", "mention", "@" + (label || word));
  }
  const address = unescapeSlack(target);
  if (!/^[a-z][a-z0-9+.\-]*:/i.test(address)) return document.createTextNode(unescapeSlack(token));
  const url = safeUrl(address);
  const shown = unescapeSlack(label || target);
  if (!url) return el("span", "unsafe-link", shown); // javascript:, data:, ... never become links
  const link = el("a", "link", shown);
  link.href = url;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  return link;
}

function inline(text, ctx, parent) {
  let rest = text;
  while (rest.length) {
    const match = INLINE.exec(rest);
    if (!match) {
      parent.append(document.createTextNode(withEmoji(unescapeSlack(rest))));
      return;
    }
    if (match.index > 0) {
      parent.append(document.createTextNode(withEmoji(unescapeSlack(rest.slice(0, match.index)))));
    }
    const token = match[0];
    if (match[1]) parent.append(angle(token, ctx));
    else if (match[2]) parent.append(el("code", null, unescapeSlack(token.slice(1, -1))));
    else {
      const tag = match[3] ? "strong" : match[4] ? "em" : "s";
      const wrap = el(tag);
      inline(token.slice(1, -1), ctx, wrap);
      parent.append(wrap);
    }
    rest = rest.slice(match.index + token.length);
  }
}

export function mrkdwn(text, ctx) {
  const box = el("div", "mrkdwn");
  const parts = String(text || "").split("```");
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      box.append(el("pre", "code-block", unescapeSlack(part.replace(/^\n/, ""))));
      return;
    }
    const lines = part.split("\n");
    lines.forEach((line, j) => {
      if (line.startsWith("&gt; ") || line.startsWith("> ")) {
        const quote = el("blockquote");
        inline(line.replace(/^(&gt;|>) /, ""), ctx, quote);
        box.append(quote);
        return;
      }
      inline(line, ctx, box);
      if (j < lines.length - 1) box.append(el("br"));
    });
  });
  return box;
}

function textObject(obj, ctx) {
  if (!obj) return el("span");
  if (typeof obj === "string") return mrkdwn(obj, ctx);
  if (obj.type === "mrkdwn") return mrkdwn(obj.text, ctx);
  return el("span", "plain", withEmoji(String(obj.text || "")));
}

function image(url, alt, cls) {
  const safe = safeUrl(url) || (String(url || "").startsWith("/web/files/") ? url : null);
  if (!safe) return el("span", "unsafe-link", alt || "[image]");
  const img = el("img", cls);
  img.src = safe;
  img.alt = alt || "";
  return img;
}

// Interactive elements; `ctx.button(element, index)` makes a clickable button and counts it
// in the order the stand-in numbers buttons (render.find_buttons): block order, accessory last.
function element(elem, ctx) {
  if (!elem || typeof elem !== "object") return el("span");
  if (elem.type === "button") return ctx.button(elem);
  if (elem.type === "image") return image(elem.image_url, elem.alt_text, "accessory-image");
  if (elem.type === "overflow") return el("span", "fake-control", "⋯");
  const label = elem.placeholder ? elem.placeholder.text : elem.type;
  const chosen = elem.initial_option ? elem.initial_option.text.text : null;
  return el("span", "fake-control", chosen || label);
}

function renderBlock(block, ctx) {
  const type = block && block.type;
  if (type === "header") return el("div", "blk-header", withEmoji(String((block.text || {}).text || "")));
  if (type === "divider") return el("hr", "blk-divider");
  if (type === "section") {
    const box = el("div", "blk-section");
    const main = el("div", "blk-section-main");
    if (block.text) main.append(textObject(block.text, ctx));
    if (Array.isArray(block.fields) && block.fields.length) {
      const grid = el("div", "blk-fields");
      grid.replaceChildren(...block.fields.map((f) => {
        const cell = el("div", "blk-field");
        cell.append(textObject(f, ctx));
        return cell;
      }));
      main.append(grid);
    }
    box.append(main);
    if (block.accessory) {
      const side = el("div", "blk-accessory");
      side.append(element(block.accessory, ctx));
      box.append(side);
    }
    return box;
  }
  if (type === "context") {
    const box = el("div", "blk-context");
    (block.elements || []).forEach((e) => {
      if (e.type === "image") box.append(image(e.image_url, e.alt_text, "context-image"));
      else box.append(textObject(e, ctx));
    });
    return box;
  }
  if (type === "actions") {
    const box = el("div", "blk-actions");
    (block.elements || []).forEach((e) => box.append(element(e, ctx)));
    return box;
  }
  if (type === "image") {
    const box = el("figure", "blk-image");
    if (block.title) box.append(el("figcaption", null, block.title.text));
    box.append(image(block.image_url, block.alt_text, "block-image"));
    return box;
  }
  if (type === "rich_text") return mrkdwn(richText(block), ctx);
  if (type === "input" && ctx.input) return ctx.input(block);
  return el("div", "blk-unknown", `[${type || "block"}]`);
}

function richText(node) {
  if (!node || typeof node !== "object") return "";
  if (node.type === "text") return String(node.text || "");
  if (node.type === "link") return `<${node.url}|${node.text || node.url}>`;
  if (node.type === "user") return `<@${node.user_id}>`;
  if (node.type === "emoji") return `:${node.name}:`;
  return (node.elements || []).map(richText).join("");
}

export function renderBlocks(blocks, ctx) {
  const box = el("div", "blocks");
  (blocks || []).forEach((b) => box.append(renderBlock(b, ctx)));
  return box;
}

const NAMED_COLORS = { danger: "#e01e5a", good: "#2eb67d", warning: "#ecb22e" };

function attachmentColor(color) {
  const value = String(color || "");
  if (NAMED_COLORS[value]) return NAMED_COLORS[value];
  if (/^#?[0-9a-f]{3,8}$/i.test(value)) return value.startsWith("#") ? value : "#" + value;
  return "";
}

export function renderAttachments(attachments, ctx) {
  const box = el("div", "attachments");
  (attachments || []).forEach((a) => {
    const item = el("div", "attachment");
    item.style.borderLeftColor = attachmentColor(a.color);
    if (a.title) item.append(el("div", "att-title", a.title));
    if (a.blocks) item.append(renderBlocks(a.blocks, ctx));
    if (a.text) item.append(mrkdwn(a.text, ctx));
    (a.fields || []).forEach((f) => {
      const field = el("div", "blk-field");
      field.append(el("strong", null, f.title || ""), mrkdwn(f.value || "", ctx));
      item.append(field);
    });
    box.append(item);
  });
  return box;
}

export { el };
