// A coord session from Node.js through coord's ZooKeeper door
// (coord-server --zk-listen), with node-zookeeper-client, ZooKeeper's own
// client for Node.js, unmodified: create an ephemeral node, read it back
// with a watch, change it, and print the watch event. The same steps as
// session.js. Usage: node zookeeper.js [HOST:PORT]
"use strict";

const zookeeper = require("node-zookeeper-client");

const address = process.argv[2] || "127.0.0.1:2181";
const client = zookeeper.createClient(address, { sessionTimeout: 10000, retries: 0 });

function fail(step, error) {
  console.error(`${step}: ${error}`);
  process.exit(1);
}

client.once("connected", () => {
  console.log(`session 0x${client.getSessionId().toString("hex")}`);
  const path = "/from-node-zk";
  client.create(path, Buffer.from("hello"), zookeeper.CreateMode.EPHEMERAL, (error, created) => {
    if (error) fail("create", error);
    console.log(`created ${created}`);
    const watcher = (event) => {
      console.log(`event ${event.getName()} ${event.getPath()}`);
      client.close();
    };
    client.getData(path, watcher, (error, data, stat) => {
      if (error) fail("getData", error);
      console.log(`data ${data.toString()} version ${stat.version}`);
      client.setData(path, Buffer.from("changed"), -1, (error) => {
        if (error) fail("setData", error);
      });
    });
  });
});

setTimeout(() => fail("timeout", "no event within 30 s"), 30000).unref();
client.connect();
