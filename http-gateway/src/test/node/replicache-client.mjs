// Drives the real Replicache 15 client against a running server; ReplicacheNodeClientTest starts
// the server and runs this as: node replicache-client.mjs <baseURL> <instance>
// Prints "OK" and exits 0 when every check holds, else prints the failure and exits 1.
import {Replicache} from 'replicache';

const [base, instance] = process.argv.slice(2);

// The same mutators as the todo example's server side, writing keys todos/<id>.
const mutators = {
  async setTodo(tx, {id, text, done, updatedAt}) {
    const prev = await tx.get(`todos/${id}`);
    await tx.set(`todos/${id}`, {id, text, done: done ?? prev?.done ?? false, updatedAt});
  },
  async removeTodo(tx, {id}) {
    await tx.del(`todos/${id}`);
  },
};

function open(name, user) {
  return new Replicache({
    name,
    kvStore: 'mem',
    mutators,
    pushURL: `${base}/replicache/todo/${instance}/push`,
    pullURL: `${base}/replicache/todo/${instance}/pull`,
    auth: user ? `Bearer dev:${user}` : '',
    pullInterval: null,
    logLevel: 'error',
  });
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const todos = rep => rep.query(tx => tx.scan({prefix: 'todos/'}).entries().toArray());

// Polls until `done` holds: pushes and pulls are asynchronous. The JUnit side bounds the whole run.
async function until(rep, done, what) {
  for (;;) {
    await rep.push({now: true});
    await rep.pull({now: true});
    if (await done()) {
      console.log('done: ' + what);
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

const alice = open('alice-tab', 'alice');
const other = open('other-tab', 'alice');
try {
  const now = Date.now();
  await alice.mutate.setTodo({id: 't1', text: 'buy milk', updatedAt: now});
  await alice.mutate.setTodo({id: 't2', text: 'walk dog', done: true, updatedAt: now});
  await alice.mutate.setTodo({id: 't1', text: 'buy oat milk', updatedAt: now + 1});
  await until(alice, async () => (await alice.experimentalPendingMutations()).length === 0, 'alice acknowledged');

  await until(other, async () => (await todos(other)).length === 2, 'other sees both todos');
  const seen = Object.fromEntries(await todos(other));
  check(JSON.stringify(seen['todos/t1']) === JSON.stringify({id: 't1', text: 'buy oat milk', done: false, updatedAt: now + 1}),
    'todos/t1 as the server computed it: ' + JSON.stringify(seen['todos/t1']));
  check(seen['todos/t2'].done === true, 'todos/t2 done: ' + JSON.stringify(seen['todos/t2']));

  await other.mutate.removeTodo({id: 't2'});
  await until(other, async () => (await other.experimentalPendingMutations()).length === 0, 'other acknowledged');
  await until(alice, async () => (await todos(alice)).length === 1, 'alice sees the removal');
  check((await todos(alice))[0][0] === 'todos/t1', 'only todos/t1 is left');
  console.log('OK');
} catch (e) {
  console.log('FAILED: ' + (e && e.stack ? e.stack : e));
  process.exitCode = 1;
} finally {
  await alice.close();
  await other.close();
}
