// Drive the real @sentry/node SDK through the corpus scenarios against a local capture server.
// Run: NODE_PATH=<dir with node_modules/@sentry/node> node capture_node.js DSN VARIANT MAP_FILE
// Variant "b" is the next release: the app's source is shifted by some lines, ids differ.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const crypto = require("crypto");

const [dsn, variant, mapFile] = process.argv.slice(2);
const b = variant === "b";
const shift = b ? Array.from({ length: 5 }, (_, i) => `// release 2.1.0 note ${i}`).join("\n") + "\n" : "";

const APP = `${shift}"use strict";
function loadUser(db, id) {
  const row = db[id];
  return row.profile.name;
}

function validateQuantity(q) {
  if (q < 1) {
    throw new RangeError("quantity out of range: " + q);
  }
  return q;
}

function checkout(cartId, qty) {
  try {
    validateQuantity(qty);
  } catch (err) {
    throw new Error("checkout failed for cart " + cartId, { cause: err });
  }
}

function parseConfig(text) {
  return JSON.parse(text);
}

module.exports = { loadUser, checkout, parseConfig };
`;

const root = fs.mkdtempSync(path.join(os.tmpdir(), `corpus-node-${variant}-`));
fs.writeFileSync(path.join(root, "shop.js"), APP);
const Sentry = require("@sentry/node");
Sentry.init({ dsn, release: b ? "shop-node@2.1.0" : "shop-node@2.0.0", environment: "corpus" });
const shop = require(path.join(root, "shop.js"));

const records = [];
function note(eventId, name, group, description) {
  records.push({ event_id: eventId, name: `node_${variant}_${name}`, expected_group: group, description });
}
function raiseAndCapture(fn, hint) {
  try {
    fn();
  } catch (err) {
    return Sentry.captureException(err, hint);
  }
  throw new Error("scenario did not raise");
}

note(raiseAndCapture(() => shop.loadUser({}, b ? "u_81" : "u_7")), "typeerror_load_user",
  "node-typeerror-load-user", "TypeError reading a property of undefined; b: shifted lines, other id");
note(raiseAndCapture(() => shop.checkout(b ? "c-2f9e" : "c-91aa", b ? -1 : 0)), "checkout_chained",
  "node-checkout-chained", "new Error(msg, { cause: RangeError }): a linked error chain");
note(Sentry.captureMessage(`Queue backlog at ${b ? 1830 : 412} jobs on worker ${crypto.randomUUID()}`),
  "message_queue_backlog", "node-message-queue-backlog", "captureMessage with a count and a UUID");
note(Sentry.captureException(`job ${b ? 77 : 12} failed to start`), "synthetic_string",
  "node-synthetic-string", "captureException of a string: a synthetic exception");
// In b the event is over the SDK's 32 KiB threshold, so it travels gzip-compressed.
const big = b ? { extra: { rows: Array.from({ length: 400 }, (_, i) => `row ${i}: ${"x".repeat(100)}`) } } : undefined;
note(raiseAndCapture(() => shop.parseConfig("{bad json"), big), "syntaxerror_config",
  "node-syntaxerror-config", "SyntaxError from JSON.parse: a different error; b: a large, gzipped event");

Sentry.flush(5000).then(() => {
  fs.appendFileSync(mapFile, records.map((r) => JSON.stringify(r) + "\n").join(""));
});
