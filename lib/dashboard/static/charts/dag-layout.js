// A layered layout of a DAG slice: a task's layer is its dependency depth
// within the slice; within a layer, tasks sit near the mean position of their
// parents (one barycentre pass), and wide layers wrap onto several rows.

/**
 * @param nodes `[{ taskId }]`
 * @param edges `[[from, to]]`
 * @returns `{ pos: Map<taskId, {x, y}>, width, height }` of node centres.
 */
export function layoutDag(nodes, edges, o) {
  const { nodeW, nodeH, gapX, gapY, maxPerRow } = o;
  const parents = new Map(nodes.map((n) => [n.taskId, []]));
  const children = new Map(nodes.map((n) => [n.taskId, []]));
  for (const [a, b] of edges) {
    if (!parents.has(a) || !parents.has(b)) continue;
    parents.get(b).push(a);
    children.get(a).push(b);
  }
  // Kahn's order: depth = 1 + the deepest parent; anything in a cycle (not in a real run) stays at 0
  const depth = new Map();
  const waiting = new Map(nodes.map((n) => [n.taskId, parents.get(n.taskId).length]));
  const queue = nodes.filter((n) => waiting.get(n.taskId) === 0).map((n) => n.taskId);
  for (const id of queue) depth.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const c of children.get(id)) {
      depth.set(c, Math.max(depth.get(c) ?? 0, depth.get(id) + 1));
      waiting.set(c, waiting.get(c) - 1);
      if (waiting.get(c) === 0) queue.push(c);
    }
  }
  const layers = [];
  for (const n of nodes) {
    const d = depth.get(n.taskId) ?? 0;
    (layers[d] ??= []).push(n.taskId);
  }
  const order = new Map();
  const pos = new Map();
  let y = nodeH / 2;
  let width = 0;
  for (const layer of layers) {
    if (!layer) continue;
    const key = (id) => {
      const ps = parents.get(id).filter((p) => order.has(p));
      return ps.length === 0 ? id : ps.reduce((a, p) => a + order.get(p), 0) / ps.length;
    };
    const keys = new Map(layer.map((id) => [id, key(id)]));
    layer.sort((a, b) => keys.get(a) - keys.get(b) || a - b);
    layer.forEach((id, i) => order.set(id, i));
    for (let i = 0; i < layer.length; i++) {
      const row = Math.floor(i / maxPerRow);
      const col = i % maxPerRow;
      pos.set(layer[i], { x: nodeW / 2 + col * (nodeW + gapX), y: y + row * (nodeH + gapX) });
      width = Math.max(width, (col + 1) * (nodeW + gapX) - gapX);
    }
    const rows = Math.ceil(layer.length / maxPerRow);
    y += rows * (nodeH + gapX) - gapX + gapY;
  }
  return { pos, width, height: Math.max(nodeH, y - gapY + nodeH / 2) };
}
