// The Kindred demo page: plain DOM, no libraries. It asks the local server for the state twice a
// second and sends what the visitor does as a Discord client would (see bot/demo/page.py).
"use strict";

const $ = (id) => document.getElementById(id);
const page = { world: null, me: null, channel: null, state: null, shown: "", commands: null, commandsKey: "",
               suggestions: [], active: -1, generation: 0, modalHandle: null, autocompleteTimer: null, autocompleteSeq: 0 };

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `the demo server answered ${response.status}`);
  return data;
}

function say(text, error = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

// -- Discord's markdown, the parts Kindred uses ----------------------------------------------

function inline(text, message) {
  const out = [];
  const pattern = /(\*\*[^*]+\*\*|\*[^*\s][^*]*\*|__[^_]+__|_[^_\s][^_]*_|`[^`]+`|<@!?\d+>|<#\d+>|<t:\d+(?::[tTdDfFR])?>|\[[^\]]+\]\(https?:[^)]+\)|<https?:[^>\s]+>|https?:\/\/[^\s<>)]+)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    const token = match[0];
    if (token.startsWith("**")) out.push(el("strong", {}, ...inline(token.slice(2, -2), message)));
    else if (token.startsWith("__")) out.push(el("u", {}, ...inline(token.slice(2, -2), message)));
    else if (token.startsWith("*") || token.startsWith("_")) out.push(el("em", {}, ...inline(token.slice(1, -1), message)));
    else if (token.startsWith("`")) out.push(el("code", { text: token.slice(1, -1) }));
    else if (token.startsWith("<@")) out.push(el("span", { class: "mention", text: "@" + (message.mentions[token.replace(/\D/g, "")] || "someone") }));
    else if (token.startsWith("<#")) out.push(el("span", { class: "mention", text: "#" + (message.channels[token.replace(/\D/g, "")] || "channel") }));
    else if (token.startsWith("<t:")) {
      const seconds = Number(token.slice(3).split(/[:>]/)[0]);
      const style = token.includes(":R") ? "relative" : token.match(/:[tT]>/) ? "time" : "full";
      const date = new Date(seconds * 1000);
      if (Number.isNaN(date.getTime())) out.push(document.createTextNode(token)); // beyond any date: as typed
      else {
        const text = style === "time" ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : date.toLocaleString();
        out.push(el("time", { datetime: date.toISOString(), text }));
      }
    } else if (token.startsWith("[")) {
      const [, label, url] = token.match(/^\[([^\]]+)\]\((.+)\)$/);
      out.push(el("a", { href: url, rel: "noreferrer noopener", target: "_blank" }, label));
    } else {
      const url = token.replace(/^<|>$/g, "");
      out.push(el("a", { href: url, rel: "noreferrer noopener", target: "_blank" }, url));
    }
    last = match.index + token.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function markdown(text, message) {
  const block = el("div", { class: "content" });
  for (const line of (text || "").split("\n")) {
    if (line.startsWith("-# ")) block.append(el("p", { class: "small" }, ...inline(line.slice(3), message)));
    else if (line.startsWith("> ")) block.append(el("blockquote", {}, ...inline(line.slice(2), message)));
    else if (/^#{1,3} /.test(line)) block.append(el("p", {}, el("strong", {}, ...inline(line.replace(/^#+ /, ""), message))));
    else if (/^\s*[-*] /.test(line)) block.append(el("p", {}, "• ", ...inline(line.replace(/^\s*[-*] /, ""), message)));
    else if (line.trim()) block.append(el("p", {}, ...inline(line, message)));
  }
  return block;
}

// -- messages -------------------------------------------------------------------------------

function attachmentFor(message, url) {
  if (!url || !url.startsWith("attachment://")) return null;
  return message.attachments.find((a) => a.filename === url.slice("attachment://".length)) || null;
}

function renderEmbed(embed, message, used) {
  const box = el("div", { class: "embed" });
  if (embed.color !== undefined) box.style.borderLeftColor = "#" + Number(embed.color).toString(16).padStart(6, "0");
  if (embed.author && embed.author.name) box.append(el("div", { class: "small", text: embed.author.name }));
  if (embed.title) box.append(el("div", { class: "title" }, ...inline(embed.title, message)));
  if (embed.description) box.append(markdown(embed.description, message));
  if (embed.fields && embed.fields.length) {
    box.append(el("div", { class: "fields" }, embed.fields.map((f) =>
      el("div", {}, el("div", { class: "field-name" }, ...inline(f.name, message)), markdown(f.value, message)))));
  }
  for (const key of ["image", "thumbnail"]) {
    const picture = embed[key];
    const file = picture && attachmentFor(message, picture.url);
    if (file) {
      used.add(file.filename);
      box.append(el("img", { src: file.url, alt: embed.title ? `${embed.title} (${file.filename})` : file.filename }));
    }
  }
  if (embed.footer && embed.footer.text) box.append(el("div", { class: "footer" }, ...inline(embed.footer.text, message)));
  return box;
}

const BUTTON_STYLES = { 1: "primary", 2: "secondary", 3: "success", 4: "danger" };

function renderComponent(component, message) {
  switch (component.type) {
    case 1: // action row
      return el("div", { class: "row" }, (component.components || []).map((c) => renderComponent(c, message)));
    case 2: { // button
      const label = [component.emoji && component.emoji.name, component.label].filter(Boolean).join(" ");
      if (component.style === 5) return el("a", { class: "link", href: component.url, rel: "noreferrer noopener", target: "_blank" }, label);
      return el("button", {
        type: "button", class: BUTTON_STYLES[component.style] || "secondary", disabled: !!component.disabled,
        "data-key": `${message.id}:${component.custom_id}`,
        onclick: () => act("/api/click", { message: message.id, custom_id: component.custom_id }),
      }, label);
    }
    case 3: { // string select
      const id = `select-${message.id}-${component.custom_id}`;
      const select = el("select", { id, multiple: (component.max_values || 1) > 1, "data-key": `${message.id}:${component.custom_id}` },
        (component.min_values || 1) <= 1 && (component.max_values || 1) === 1 ? el("option", { value: "", text: component.placeholder || "Choose…" }) : null,
        (component.options || []).map((o) => el("option", { value: o.value, text: o.label })));
      const send = el("button", { type: "button", class: "secondary", disabled: !!component.disabled, onclick: () => {
        const values = [...select.selectedOptions].map((o) => o.value).filter(Boolean);
        if (values.length) act("/api/select", { message: message.id, custom_id: component.custom_id, values });
      } }, "Choose");
      return el("div", { class: "row" }, el("label", { for: id, class: "hint", text: component.placeholder || "Choose" }), select, send);
    }
    case 9: // section
      return el("div", {}, (component.components || []).map((c) => renderComponent(c, message)),
                component.accessory ? renderComponent(component.accessory, message) : null);
    case 10: return markdown(component.content, message);
    case 14: return el("hr");
    case 17: return el("div", { class: "embed" }, (component.components || []).map((c) => renderComponent(c, message)));
    default: return null;
  }
}

function renderMessage(message) {
  const item = el("li", { class: "msg" + (message.ephemeral ? " ephemeral" : ""), "data-id": message.id });
  const meta = el("div", { class: "meta" },
    el("span", { class: "author", text: message.author.name }),
    message.author.bot ? el("span", { class: "bot-tag", text: "APP" }) : null,
    message.used ? el("span", { text: `replying to ${message.used.by}'s ${message.used.command}` }) : null,
    message.edited ? el("span", { text: "(edited)" }) : null);
  item.append(meta);
  if (message.thinking) item.append(el("p", { class: "thinking", text: `${message.author.name} is thinking…` }));
  if (message.content) item.append(markdown(message.content, message));
  const used = new Set();
  for (const embed of message.embeds) item.append(renderEmbed(embed, message, used));
  for (const file of message.attachments) {
    if (used.has(file.filename)) continue;
    if (file.content_type.startsWith("image/")) item.append(el("img", { src: file.url, alt: file.filename }));
    else if (file.text !== undefined) {
      item.append(el("details", { class: "file", open: true }, el("summary", { text: file.filename }),
        el("pre", { tabindex: "0", "aria-label": file.filename, text: prettyJson(file.text) })));
    } else item.append(el("p", { class: "file" }, el("a", { href: file.url, download: file.filename, text: file.filename })));
  }
  for (const component of message.components) item.append(renderComponent(component, message));
  if (message.ephemeral) item.append(el("p", { class: "private", text: "Only you can see this message." }));
  return item;
}

function renderSafely(message) {
  // One message the page cannot draw (whatever a member typed) must not stop the others showing.
  try {
    return renderMessage(message);
  } catch (error) {
    console.error("cannot show message", message.id, error);
    return el("li", { class: "msg", "data-id": message.id },
      el("div", { class: "meta" }, el("span", { class: "author", text: message.author.name })),
      el("p", { text: message.content || "(this message cannot be shown here)" }));
  }
}

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

// -- the whole page -------------------------------------------------------------------------

function render(state) {
  page.state = state;
  page.channel = state.channel;
  $("clock-now").textContent = new Date(state.now).toLocaleString([], {
    weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC" }) + " UTC";
  $("clock-now").setAttribute("datetime", state.now);
  $("clock-next").textContent = state.next
    ? `next: ${state.next.what}, ${new Date(state.next.at).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit", timeZone: "UTC" })} UTC`
    : "nothing scheduled yet";
  const current = state.channels.find((c) => c.id === state.channel);
  const content = JSON.stringify([state.channels, state.channel, state.messages]);
  if (content !== page.shown) {
    const focusKey = document.activeElement && document.activeElement.getAttribute("data-key");
    $("channels").replaceChildren(...state.channels.map((c) => el("li", {}, el("button", {
      type: "button", "aria-current": c.id === state.channel ? "true" : null, "data-key": `channel:${c.id}`,
      onclick: () => { page.channel = c.id; refresh(); $("composer-input").focus(); },
    }, c.dm ? c.name : `# ${c.name}`))));
    $("channel-title").textContent = current.dm ? current.name : `# ${current.name}`;
    $("channel-hint").textContent = current.dm ? "Only you and Kindred see this conversation."
      : "Everyone in the server sees this channel; replies marked “only you” are private.";
    $("composer-label").textContent = current.dm ? `Message ${current.name}` : `Message #${current.name}`;
    const before = new Set([...$("messages").children].map((m) => m.dataset.id));
    $("messages").replaceChildren(...state.messages.map((m) => {
      const item = renderSafely(m);
      if (before.size && !before.has(m.id)) item.classList.add("new");
      return item;
    }));
    if (!state.messages.length) $("messages").append(el("li", { class: "hint", text: "No messages yet." }));
    if (focusKey) {
      const again = document.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
    const last = $("messages").lastElementChild;
    if (last && last.scrollIntoView && document.activeElement === $("composer-input")) last.scrollIntoView({ block: "nearest" });
    page.shown = content; // only once drawn: a drawing that failed is tried again at the next look
  }
  showModal(state.modal);
}

async function refresh() {
  if (!page.me) return;
  try {
    const query = new URLSearchParams({ as: page.me });
    if (page.channel) query.set("channel", page.channel);
    render(await api(`/api/state?${query}`));
  } catch (error) {
    say(`Lost touch with the demo server (${error.message}). Is python -m bot demo still running?`, true);
  }
}

async function act(path, body) {
  say("");
  try {
    const answer = await api(path, { as: page.me, channel: page.channel, ...body });
    await refresh();
    return answer;
  } catch (error) {
    say(error.message, true);
    return null;
  }
}

// -- the message box: commands, options, autocomplete ----------------------------------------

async function commands() {
  const key = `${page.me}:${page.channel}`;
  if (page.commandsKey !== key) {
    page.commands = await api(`/api/commands?${new URLSearchParams({ as: page.me, channel: page.channel })}`);
    page.commandsKey = key;
  }
  return page.commands;
}

function typedCommand(text, list) {
  const found = list.commands.filter((c) => text === c.path || text.startsWith(c.path + " "));
  return found.sort((a, b) => b.path.length - a.path.length)[0] || null;
}

function currentOption(command, rest) {
  // What is being typed: an option's value ("name:partial", which may contain spaces for text
  // options), or a bare word that starts the next option's name.
  const names = command.options.map((o) => o.name).sort((a, b) => b.length - a.length);
  const escape = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const marks = names.length ? [...rest.matchAll(new RegExp(`(?:^|\\s)(${names.map(escape).join("|")}):`, "g"))] : [];
  // As the server reads it (bot/demo/commands.py): inside free text, "day: " (a space after the
  // colon) or an option already given is words, not the next option.
  const found = [];
  for (const mark of marks) {
    const current = found.length && command.options.find((o) => o.name === found[found.length - 1][1]);
    const next = rest.slice(mark.index + mark[0].length, mark.index + mark[0].length + 1);
    const words = current && current.type === 3 && !current.choices && (found.some((f) => f[1] === mark[1]) || !next.trim());
    if (!words) found.push(mark);
  }
  const used = found.map((m) => m[1]);
  const word = rest.match(/(\S*)$/)[1];
  const last = found[found.length - 1];
  if (last) {
    const tail = rest.slice(last.index + last[0].length);
    const option = command.options.find((o) => o.name === last[1]);
    const startsName = command.options.some((o) => !used.includes(o.name) && o.name.startsWith(word));
    if (!/\s/.test(tail)) return { kind: "value", option, partial: tail, used };
    const freeText = option.type === 3 && !option.choices;
    if (freeText && word && !startsName) return { kind: "value", option, partial: tail.trimStart(), used };
  }
  return { kind: "name", partial: word, used };
}

function optionHint(option) {
  const kinds = { 3: "text", 4: "whole number", 5: "true/false", 6: "member", 7: "channel", 8: "role", 9: "member or role", 10: "number", 11: "file" };
  const range = option.min_value !== undefined ? ` ${option.min_value}–${option.max_value}` : "";
  return `${option.required ? "required" : "optional"} ${kinds[option.type] || ""}${range}${option.description ? " — " + option.description : ""}`;
}

async function suggest() {
  // Each keystroke starts a new look-up; one that finishes after a newer one must not replace its list.
  const generation = ++page.generation;
  const input = $("composer-input");
  const text = input.value;
  let items = [];
  if (text.startsWith("/")) {
    let list;
    try { list = await commands(); } catch (error) { say(error.message, true); return; }
    const command = typedCommand(text, list);
    if (!command) {
      items = list.commands.filter((c) => c.path.startsWith(text.trim()) || (text.trim().length > 1 && c.path.includes(text.trim().slice(1))))
        .slice(0, 25).map((c) => ({ label: c.path, hint: c.description, insert: c.path + " " + firstRequired(c) }));
    } else {
      const rest = text.slice(command.path.length).replace(/^ /, "");
      const where = currentOption(command, rest);
      const before = text.slice(0, text.length - where.partial.length);
      if (where.kind === "name") {
        items = command.options.filter((o) => !where.used.includes(o.name) && o.name.startsWith(where.partial))
          .sort((a, b) => Number(!!b.required) - Number(!!a.required))
          .map((o) => ({ label: `${o.name}:`, hint: optionHint(o), insert: before + o.name + ":" }));
      } else {
        items = await valueChoices(where.option, where.partial, text, list);
        items = items.map((c) => ({ label: c.name, hint: c.name === c.value ? "" : c.value, insert: before + c.value + " " }));
        if (!items.length && generation === page.generation) {
          $("composer-hint").textContent = `${where.option.name}: ${optionHint(where.option)}`;
        }
      }
    }
  }
  if (generation === page.generation) showSuggestions(items);
}

function firstRequired(command) {
  const required = command.options.find((o) => o.required);
  return required ? required.name + ":" : "";
}

async function valueChoices(option, partial, text, list) {
  const lower = partial.toLowerCase();
  const starts = (choice) => choice.name.toLowerCase().includes(lower) || String(choice.value).toLowerCase().startsWith(lower);
  if (option.choices) return option.choices.map((c) => ({ name: c.name, value: String(c.value) })).filter(starts);
  if (option.type === 5) return [{ name: "true", value: "true" }, { name: "false", value: "false" }].filter(starts);
  if (option.type === 7) return list.channels.map((n) => ({ name: `#${n}`, value: `#${n}` })).filter(starts);
  if (option.type === 6 || option.type === 9) return list.people.map((n) => ({ name: `@${n}`, value: `@${n}` })).filter(starts);
  if (option.type === 8) return page.world.roles.map((n) => ({ name: `@${n}`, value: `@${n}` })).filter(starts);
  if (option.autocomplete) {
    const seq = ++page.autocompleteSeq;
    await new Promise((resolve) => { clearTimeout(page.autocompleteTimer); page.autocompleteTimer = setTimeout(resolve, 200); });
    if (seq !== page.autocompleteSeq) return [];
    try {
      const answer = await api("/api/autocomplete", { as: page.me, channel: page.channel, text });
      return seq === page.autocompleteSeq ? answer.choices : [];
    } catch { return []; }
  }
  return [];
}

function showSuggestions(items) {
  page.suggestions = items;
  page.active = items.length ? 0 : -1;
  const list = $("suggestions");
  const input = $("composer-input");
  list.replaceChildren(...items.map((item, index) => el("li", {
    id: `suggestion-${index}`, role: "option", "aria-selected": index === page.active ? "true" : "false",
    onmousedown: (event) => { event.preventDefault(); take(index); },
  }, el("span", { text: item.label }), item.hint ? el("span", { class: "hint", text: `  ${item.hint}` }) : null)));
  list.hidden = !items.length;
  input.setAttribute("aria-expanded", items.length ? "true" : "false");
  if (items.length) input.setAttribute("aria-activedescendant", "suggestion-0");
  else input.removeAttribute("aria-activedescendant");
  if (!items.length && !input.value.startsWith("/")) {
    $("composer-hint").innerHTML = "";
    $("composer-hint").append("Type ", el("kbd", { text: "/" }), " for Kindred's commands; ↑ ↓ choose a suggestion, ",
      el("kbd", { text: "Tab" }), " takes it, ", el("kbd", { text: "Enter" }), " sends.");
  }
}

function move(step) {
  if (!page.suggestions.length) return;
  page.active = (page.active + step + page.suggestions.length) % page.suggestions.length;
  [...$("suggestions").children].forEach((li, i) => li.setAttribute("aria-selected", i === page.active ? "true" : "false"));
  $("composer-input").setAttribute("aria-activedescendant", `suggestion-${page.active}`);
  $(`suggestion-${page.active}`).scrollIntoView({ block: "nearest" });
}

function take(index) {
  const item = page.suggestions[index];
  if (!item) return;
  const input = $("composer-input");
  input.value = item.insert;
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  suggest();
}

async function send(event) {
  event.preventDefault();
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text) return;
  showSuggestions([]);
  const answer = await act(text.startsWith("/") ? "/api/command" : "/api/say", { text });
  if (answer) input.value = "";
}

// -- forms the bot opens (modals) -----------------------------------------------------------

function modalInputs(components) {
  const fields = [];
  const walk = (component, label) => {
    if (!component) return;
    if (component.type === 1) (component.components || []).forEach((c) => walk(c));
    else if (component.type === 18) walk(component.component, component.label);
    else if (component.type === 4) fields.push({ ...component, label: label || component.label });
  };
  components.forEach((c) => walk(c));
  return fields;
}

function showModal(modal) {
  const dialog = $("modal");
  if (!modal) {
    if (dialog.open) dialog.close();
    page.modalHandle = null;
    return;
  }
  if (page.modalHandle === modal.handle && dialog.open) return;
  page.modalHandle = modal.handle;
  $("modal-title").textContent = modal.title;
  $("modal-fields").replaceChildren(...modalInputs(modal.components).map((field) => {
    const id = `field-${field.custom_id}`;
    const attrs = { id, name: field.custom_id, placeholder: field.placeholder, required: field.required !== false,
                    minlength: field.min_length, maxlength: field.max_length };
    const input = field.style === 2 ? el("textarea", { ...attrs, rows: "3" }) : el("input", { ...attrs, type: "text" });
    input.value = field.value || "";
    return el("div", {}, el("label", { for: id, text: field.label + (field.required === false ? " (optional)" : "") }), input);
  }));
  if (!dialog.open) dialog.showModal();
  const first = $("modal-fields").querySelector("input, textarea");
  if (first) first.focus();
}

async function submitModal(event) {
  event.preventDefault();
  const values = {};
  for (const input of $("modal-fields").querySelectorAll("input, textarea")) values[input.name] = input.value;
  const handle = page.modalHandle;
  $("modal").close();
  await act("/api/modal", { handle, values });
  $("composer-input").focus();
}

async function cancelModal() {
  const handle = page.modalHandle;
  $("modal").close();
  if (handle) await act("/api/modal/dismiss", { handle });
  $("composer-input").focus();
}

// -- start ----------------------------------------------------------------------------------

async function skip(kind) {
  const answer = await act("/api/clock", { skip: kind });
  if (answer) say(answer.message);
}

async function exportMine() {
  // "What is stored about me" is /privacy export, run in the server as the member would.
  if (page.state) {
    const server = page.state.channels.find((c) => !c.dm);
    if (page.state.channels.find((c) => c.id === page.channel).dm) page.channel = server.id;
  }
  await act("/api/command", { text: "/privacy export" });
}

async function start() {
  page.world = await api("/api/world");
  $("server-name").textContent = page.world.server;
  $("who").replaceChildren(...page.world.people.map((p) =>
    el("option", { value: p.id, text: `${p.name} (${p.moderator ? "moderator" : "member"})` })));
  page.me = page.world.people[0].id;
  $("who").addEventListener("change", () => { page.me = $("who").value; page.channel = null; page.shown = ""; showSuggestions([]); refresh(); });
  $("skip-next").addEventListener("click", () => skip("next"));
  $("skip-hour").addEventListener("click", () => skip("hour"));
  $("skip-day").addEventListener("click", () => skip("day"));
  $("export").addEventListener("click", exportMine);
  $("composer").addEventListener("submit", send);
  $("modal-form").addEventListener("submit", submitModal);
  $("modal-cancel").addEventListener("click", cancelModal);
  $("modal").addEventListener("cancel", (event) => { event.preventDefault(); cancelModal(); });
  const input = $("composer-input");
  input.addEventListener("input", suggest);
  input.addEventListener("keydown", (event) => {
    const open = page.suggestions.length > 0;
    if (event.key === "ArrowDown" && open) { event.preventDefault(); move(1); }
    else if (event.key === "ArrowUp" && open) { event.preventDefault(); move(-1); }
    else if (event.key === "Tab" && open && !event.shiftKey) { event.preventDefault(); take(page.active); }
    else if (event.key === "Escape" && open) { event.preventDefault(); showSuggestions([]); }
  });
  await refresh();
  setInterval(refresh, 600);
  document.body.dataset.ready = "true";
}

start().catch((error) => say(`The demo page could not start: ${error.message}`, true));
