// A plain TAP reporter for node's test runner (one line per top-level test, details as
// comments), which meson's TAP parser reads; node's own TAP output has YAML blocks that
// older meson versions refuse.
export default async function* tap(source) {
  let n = 0;
  const lines = (text) => String(text).trimEnd().split('\n').map((l) => `# ${l}`).join('\n') + '\n';
  yield 'TAP version 13\n';
  for await (const event of source) {
    const d = event.data || {};
    switch (event.type) {
    case 'test:pass':
      if (d.nesting !== 0) break;
      n++;
      if (d.skip !== undefined && d.skip !== false)
        yield `ok ${n} - ${d.name} # SKIP ${d.skip === true ? '' : d.skip}\n`;
      else
        yield `ok ${n} - ${d.name}\n`;
      break;
    case 'test:fail': {
      if (d.nesting !== 0) break;
      n++;
      yield `not ok ${n} - ${d.name}\n`;
      const err = d.details && d.details.error;
      const cause = err && (err.cause || err);
      yield lines(cause && (cause.stack || cause.message) ? (cause.stack || cause.message) : String(err));
      break;
    }
    case 'test:diagnostic':
      if (d.nesting === 0) yield lines(d.message);
      break;
    case 'test:stdout':
    case 'test:stderr':
      yield lines(d.message);
      break;
    default:
      break;
    }
  }
  yield `1..${n}\n`;
}
