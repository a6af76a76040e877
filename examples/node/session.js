// A coord session from Node.js, with nothing but protos/ and @grpc/grpc-js:
// open a session on the Session stream, create an ephemeral node, read it
// back with a watch, change it from a second (unary) call, and print the
// watch event. Usage: node session.js [HOST:PORT]
// TLS, as coordctl: COORD_TLS_CA=ca.pem (and for mutual TLS COORD_TLS_CERT,
// COORD_TLS_KEY) connects with TLS, trusting that CA.
"use strict";

const fs = require("fs");
const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const address = process.argv[2] || "127.0.0.1:7181";
const definition = protoLoader.loadSync("coord/v1/client.proto", {
  includeDirs: [path.join(__dirname, "..", "..", "protos")],
  keepCase: true, // field names exactly as in the .proto
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const coord = grpc.loadPackageDefinition(definition).coord.v1;
const { COORD_TLS_CA: ca, COORD_TLS_CERT: cert, COORD_TLS_KEY: key } = process.env;
const read = (file) => (file ? fs.readFileSync(file) : null);
const credentials = ca || cert || key
  ? grpc.credentials.createSsl(read(ca), read(key), read(cert))
  : grpc.credentials.createInsecure();
const client = new coord.Coord(address, credentials);

const stream = client.Session();
const waiting = new Map(); // xid -> resolve
let onEvent = () => {};
let onConnected = () => {};

stream.on("data", (frame) => {
  for (const message of frame.messages) {
    if (message.kind === "connected") onConnected(message.connected);
    else if (message.kind === "response") waiting.get(Number(message.response.xid))(message.response);
    else if (message.kind === "event") onEvent(message.event);
  }
});
stream.on("error", (err) => {
  console.error(`session stream failed: ${err.message}`);
  process.exit(1);
});

let nextXid = 1;
function call(op) {
  const xid = nextXid++;
  return new Promise((resolve, reject) => {
    waiting.set(xid, (response) => {
      waiting.delete(xid);
      if (response.result === "error") reject(new Error(`${response.error.code}: ${response.error.message}`));
      else resolve(response[response.result]);
    });
    stream.write({ messages: [{ request: { xid, ...op } }] });
  });
}

async function main() {
  const connected = new Promise((resolve) => (onConnected = resolve));
  stream.write({ messages: [{ connect: { timeout_ms: 10000 } }] });
  const session = await connected;
  console.log(`session ${session.session_id} on member ${session.member_id}`);

  const created = await call({ create: { path: "/from-node", data: Buffer.from("hello"), ephemeral: true } });
  console.log(`created ${created.path}`);

  const got = await call({ get_data: { path: "/from-node", watch: true } });
  console.log(`data ${got.data.toString()} version ${got.stat.version}`);

  const event = new Promise((resolve) => (onEvent = resolve));
  await new Promise((resolve, reject) =>
    client.SetData({ path: "/from-node", data: Buffer.from("changed") }, (err) => (err ? reject(err) : resolve()))
  );
  const seen = await event;
  console.log(`event ${seen.type} ${seen.path}`);

  stream.write({ messages: [{ close: {} }] });
  stream.end();
  client.close();
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
