// The explorer: a hash router over four views (checkpoints, one checkpoint, diff, network).
import * as api from './api.js'
import { lineChart, timeline } from './chart.js'
import { assetDecimals, failed, html, raw, reported, short, time, units, verified } from './format.js'
import { verifyCheckpoint, verifyProof, verifyRootBlock } from './verify.js'

const view = document.getElementById('view')
const PAGE = 50

function show(content, title) {
  view.innerHTML = String(content)
  document.title = `${title} · Ark explorer`
  for (const a of document.querySelectorAll('[data-nav]')) a.toggleAttribute('aria-current', false)
  const nav = title === 'Diff' ? 'diff' : title === 'Network' ? 'network' : 'checkpoints'
  document.querySelector(`[data-nav="${nav}"]`)?.setAttribute('aria-current', 'page')
}

const errorBox = (e) => html`<p class="error" role="alert">${e.message}</p>`

/** Checkpoint verification, once per certificate. */
const checks = new Map()
function check(cp) {
  if (!checks.has(cp.certificateCid)) checks.set(cp.certificateCid, verifyCheckpoint(cp))
  return checks.get(cp.certificateCid)
}

function signatureBadge(cp) {
  const v = check(cp)
  return v.ok ? verified(`signatures verified: weight ${v.weight} ≥ threshold ${cp.threshold}`) : failed(`signatures NOT verified: ${v.problems.join('; ')}`)
}

function commands(cp) {
  const m = cp.certificate.message
  const dir = `ark-${cp.block}`
  const fetchCmd = `ark fetch --chain ${m.chainId} --adapter ${m.adapterId} --block ${cp.block} --trust operators.json --gateway ${api.nodeBase()} --out ${dir}`
  const citeCmd = `ark cite ${dir} --trust operators.json --out citation-${cp.block}.json`
  return html`<div class="cmd"><pre><code>${fetchCmd}</code></pre><button type="button" class="secondary" data-copy="${fetchCmd}" aria-label="Copy the ark fetch command">Copy</button></div>
<div class="cmd"><pre><code>${citeCmd}</code></pre><button type="button" class="secondary" data-copy="${citeCmd}" aria-label="Copy the ark cite command">Copy</button></div>`
}

function checkpointCard(cp, times) {
  return html`<li class="card" data-block="${cp.block}" data-kind="${cp.kind}">
<h3><a href="#/checkpoint/${cp.block}">Block ${cp.block}</a>${cp.kind === 'emergency' ? html`<span class="badge emergency">emergency</span>` : ''} ${signatureBadge(cp)}</h3>
<dl class="kv">
<dt>Time</dt><dd data-time="${cp.block}">${time(times.get(cp.block))}</dd>
<dt>Snapshot CID</dt><dd class="mono">${cp.snapshotCid}</dd>
<dt>stateRoot</dt><dd class="mono">${cp.stateRoot}</dd>
<dt>Signers</dt><dd>${cp.signers.length} (${cp.signers.map((s) => short(s.signer, 6)).join(', ')}); weight ${cp.weight} of threshold ${cp.threshold} ${reported('operator set at this block: reported by this node')}</dd>
<dt>Anchored in ArkRegistry</dt><dd data-anchor="${cp.block}">checking…</dd>
</dl>
<details><summary>Commands to fetch and cite it</summary>${commands(cp)}</details>
</li>`
}

/** What the node reads from ArkRegistry for a checkpoint (recordedRoot at its finalized head). */
function anchorText(a) {
  if (a.status === 'anchored') return html`anchored: ${short(a.registry, 6)} records this stateRoot (read at block ${a.readAt}) ${reported()}`
  if (a.status === 'conflicting') return html`<strong>CONFLICT</strong>: the registry records another root ${a.recordedRoot} ${reported()}`
  return html`not anchored yet (read at block ${a.readAt}) ${reported()}`
}

function fillAnchoring(list) {
  for (const cp of list) {
    api.anchor(cp.block).then(
      (a) => {
        for (const el of view.querySelectorAll(`[data-anchor="${cp.block}"]`)) el.innerHTML = String(anchorText(a))
      },
      (e) => {
        const text = e.code === 'NOT_OFFERED' ? 'unknown: this node takes its operators from a file, not ArkRegistry' : `unknown: ${e.message}`
        for (const el of view.querySelectorAll(`[data-anchor="${cp.block}"]`)) el.innerHTML = String(reported(text))
      },
    )
  }
}

async function checkpointsView(params) {
  const to = params.get('to')
  const [st, page] = await Promise.all([api.status(), api.checkpoints(`?limit=${PAGE}${to === null ? '' : `&to=${to}`}`)])
  const list = [...page.checkpoints].reverse()
  const times = new Map()
  const regular = list.filter((c) => c.kind !== 'emergency')
  const emergency = list.filter((c) => c.kind === 'emergency')
  const older = page.checkpoints.length === PAGE && BigInt(page.checkpoints[0].block) > 0n ? BigInt(page.checkpoints[0].block) - 1n : undefined
  show(
    html`<h2>Certified checkpoints</h2>
<p>Chain ${st.chainId}, adapter <code>${st.adapter?.id}</code>. Latest certified: ${st.latestCertified === null ? 'none yet' : html`<a href="#/checkpoint/${st.latestCertified.block}">block ${st.latestCertified.block}</a>`}. ${reported()}</p>
${raw(timeline(page.checkpoints))}
<section aria-labelledby="h-regular"><h3 id="h-regular">Regular checkpoints (${regular.length})</h3>
${regular.length === 0 ? html`<p class="muted">None in this page.</p>` : html`<ol class="cards" id="regular">${regular.map((c) => checkpointCard(c, times))}</ol>`}</section>
<section aria-labelledby="h-emergency"><h3 id="h-emergency">Emergency checkpoints (${emergency.length})</h3>
${emergency.length === 0 ? html`<p class="muted">None in this page.</p>` : html`<ol class="cards" id="emergency">${emergency.map((c) => checkpointCard(c, times))}</ol>`}</section>
${older === undefined ? '' : html`<p><a href="#/?to=${older}">Older checkpoints</a></p>`}`,
    'Checkpoints',
  )
  fillAnchoring(list)
  // times come from the snapshots (summaries): fill them in when they arrive
  api.totals(PAGE).then(
    (t) => {
      for (const p of t.points) for (const el of view.querySelectorAll(`[data-time="${p.block}"]`)) el.textContent = time(p.timestamp)
    },
    () => {},
  )
}

function totalsTable(s, dec) {
  const assets = Object.keys(s.totals)
  if (assets.length === 0) return html`<p class="muted">No balances in this snapshot.</p>`
  return html`<div class="table-wrap"><table><caption class="muted">Totals per asset over every account ${reported('computed by this node')}</caption>
<thead><tr><th scope="col">Asset</th><th scope="col" class="num">Total</th><th scope="col" class="num">Holders</th></tr></thead>
<tbody>${assets.map((a) => html`<tr><td class="mono">${a}${dec.has(a) ? '' : ' (raw)'}</td><td class="num">${units(s.totals[a], dec.get(a))}</td><td class="num">${s.holders[a] ?? 0}</td></tr>`)}</tbody></table></div>`
}

function marketsTable(s) {
  const markets = s.markets?.markets ?? []
  if (markets.length === 0) return ''
  const pos = new Map(s.positions.map((p) => [p.market, p]))
  return html`<div class="table-wrap"><table><caption class="muted">Markets: prices, open interest, funding (market state of the snapshot) and Σ positions ${reported('computed by this node')}</caption>
<thead><tr><th scope="col">Market</th><th scope="col" class="num">Price</th><th scope="col" class="num">OI long</th><th scope="col" class="num">OI short</th><th scope="col" class="num">Funding rate</th><th scope="col" class="num">Funding index</th><th scope="col" class="num">Σ long</th><th scope="col" class="num">Σ short</th></tr></thead>
<tbody>${markets.map((m) => html`<tr><th scope="row">${m.id}</th><td class="num">${m.price === undefined ? '-' : units(m.price, m.priceDecimals)}</td><td class="num">${units(m.longOpenInterest ?? '0', 18)}</td><td class="num">${units(m.shortOpenInterest ?? '0', 18)}</td><td class="num">${m.fundingRate ?? '-'}</td><td class="num">${m.fundingIndex ?? '-'}</td><td class="num">${units(pos.get(m.id)?.long ?? '0', 18)}</td><td class="num">${units(pos.get(m.id)?.short ?? '0', 18)}</td></tr>`)}</tbody></table></div>`
}

function largestTables(block, s, dec) {
  return Object.entries(s.largest).map(
    ([asset, list]) => html`<div class="table-wrap"><table><caption class="muted">Largest holders of <span class="mono">${short(asset, 8)}</span> ${reported()}</caption>
<thead><tr><th scope="col">Account</th><th scope="col" class="num">Balance</th></tr></thead>
<tbody>${list.map((h) => html`<tr><td class="mono"><a href="#/checkpoint/${block}/account/${h.account}">${h.account}</a></td><td class="num">${units(h.amount, dec.get(asset))}</td></tr>`)}</tbody></table></div>`,
  )
}

async function checkpointView(block, account) {
  const cp = await api.checkpoint(block)
  const v = check(cp)
  show(
    html`<h2>Checkpoint at block ${cp.block} ${cp.kind === 'emergency' ? html`<span class="badge emergency">emergency</span>` : ''}</h2>
<dl class="kv">
<dt>Certificate</dt><dd>${signatureBadge(cp)} <span class="mono">${cp.certificateCid}</span></dd>
<dt>Snapshot CID</dt><dd class="mono">${cp.snapshotCid}</dd>
<dt>Snapshot root block</dt><dd id="root-block">checking…</dd>
<dt>stateRoot</dt><dd class="mono" id="state-root">${cp.stateRoot}</dd>
<dt>Block hash</dt><dd class="mono">${cp.blockHash}</dd>
<dt>Signers</dt><dd>${v.valid.map((a) => html`<span class="mono">${a}</span> `)} (weight ${cp.weight} / threshold ${cp.threshold})</dd>
</dl>
<details><summary>Commands to fetch and cite it</summary>${commands(cp)}</details>
<section aria-labelledby="h-account"><h3 id="h-account">Account record and proof</h3>
<form id="account-form" class="row"><label for="account">Account address<input id="account" name="account" required pattern="0x[0-9a-fA-F]{40}" placeholder="0x…" size="44" value="${account ?? ''}"></label><button type="submit">Look up</button></form>
<div id="account-result" aria-live="polite"></div></section>
<section aria-labelledby="h-totals"><h3 id="h-totals">Totals</h3><div id="summary"><p>Computing totals…</p></div></section>`,
    `Block ${cp.block}`,
  )
  document.getElementById('account-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const a = document.getElementById('account').value.trim()
    location.hash = `#/checkpoint/${cp.block}/account/${a}`
  })
  const lookup = account === undefined ? Promise.resolve() : accountResult(cp, account)
  const rootCheck = rootBlockResult(cp)
  try {
    const s = await api.summary(cp.block)
    const dec = assetDecimals(s.markets)
    document.getElementById('summary').innerHTML = String(html`<p>${s.accountCount} accounts; block time ${time(s.timestamp)}; adapter <code>${s.adapter.id}</code> ${s.adapter.version}. Totals are sums the node computed from the snapshot it holds ${reported()}; verify any one account below against the stateRoot.</p>
${totalsTable(s, dec)}${marketsTable(s)}<div class="columns">${largestTables(cp.block, s, dec)}</div>`)
  } catch (e) {
    document.getElementById('summary').innerHTML = String(errorBox(e))
  }
  await Promise.all([lookup, rootCheck])
}

async function rootBlockResult(cp) {
  const el = document.getElementById('root-block')
  try {
    const r = verifyRootBlock(cp.snapshotCid, await api.rawBlock(cp.snapshotCid), cp.stateRoot)
    el.dataset.verified = r.ok ? 'yes' : 'no'
    el.innerHTML = String(r.ok ? verified('hashes to the snapshot CID and carries the certified stateRoot') : failed(r.problem))
  } catch (e) {
    el.dataset.verified = 'no'
    el.innerHTML = String(failed(`not checked: ${e.message}`))
  }
}

async function accountResult(cp, address) {
  const box = document.getElementById('account-result')
  box.innerHTML = '<p>Fetching the proof…</p>'
  try {
    const a = await api.account(cp.block, address)
    const p = a.proof
    const sig = check(cp)
    const r = verifyProof(p, cp.stateRoot)
    const ok = r.ok && sig.ok
    const text = JSON.stringify(p, null, 2)
    const href = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
    box.innerHTML = String(html`<p id="proof-status" data-verified="${ok ? 'yes' : 'no'}">${ok ? verified('proof verified against the certified stateRoot') : failed(r.ok ? 'proof leads to the stateRoot, but the certificate does not verify' : `proof does NOT lead to the stateRoot (got ${r.computed})`)}</p>
<p>Leaf values (${p.leafEncoding.join(', ')}), verified by the proof:</p><pre id="leaf-values">${JSON.stringify(p.value, null, 2)}</pre>
<p>Full record ${reported('reported by this node; its hash is the leaf\'s second value')}:</p><pre id="record">${JSON.stringify(p.record, null, 2)}</pre>
<p><a id="proof-download" href="${href}" download="proof-${cp.block}-${address.toLowerCase()}.json">Download the proof (OpenZeppelin StandardMerkleTree format: leafEncoding, value, proof, stateRoot)</a></p>`)
  } catch (e) {
    box.innerHTML = String(errorBox(e))
  }
}

async function diffView(from, to) {
  const page = await api.checkpoints('?limit=1000')
  const cps = page.checkpoints
  if (cps.length < 2) {
    show(html`<h2>Diff</h2><p>Two certified checkpoints are needed; this node holds ${cps.length}.</p>`, 'Diff')
    return
  }
  from ??= cps[cps.length - 2].block
  to ??= cps[cps.length - 1].block
  const options = (sel) => cps.map((c) => html`<option value="${c.block}" ${c.block === sel ? raw('selected') : ''}>${c.block}${c.kind === 'emergency' ? ' (emergency)' : ''}</option>`)
  show(
    html`<h2>Diff between two checkpoints</h2>
<form id="diff-form" class="row"><label for="from">From block<select id="from">${options(from)}</select></label><label for="to">To block<select id="to">${options(to)}</select></label><button type="submit">Compare</button></form>
<div id="diff-result" aria-live="polite"><p>Computing the diff…</p></div>
<section aria-labelledby="h-chart"><h3 id="h-chart">Totals over time</h3><div id="chart"><p>Loading…</p></div></section>`,
    'Diff',
  )
  document.getElementById('diff-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    location.hash = `#/diff/${document.getElementById('from').value}/${document.getElementById('to').value}`
  })
  const fromCp = cps.find((c) => c.block === from)
  const toCp = cps.find((c) => c.block === to)
  const box = document.getElementById('diff-result')
  try {
    const [d, sTo] = await Promise.all([api.diff(from, to), api.summary(to)])
    const dec = assetDecimals(sTo.markets)
    const s = d.summary
    const assets = [...new Set([...Object.keys(s.moved), ...Object.keys(s.increased), ...Object.keys(s.decreased)])].sort()
    box.innerHTML = String(html`<p>Block ${s.from.block} → ${s.to.block}: ${s.added} added, ${s.removed} removed, ${s.changed} changed accounts. Both certificates: ${fromCp === undefined ? '' : signatureBadge(fromCp)} ${toCp === undefined ? '' : signatureBadge(toCp)}; the diff itself ${reported('computed by this node')} (recompute with <code>ark diff</code>).</p>
<div class="table-wrap"><table id="diff-assets"><caption class="muted">Moved per asset</caption><thead><tr><th scope="col">Asset</th><th scope="col" class="num">Net</th><th scope="col" class="num">Gained</th><th scope="col" class="num">Lost</th></tr></thead>
<tbody>${assets.map((a) => html`<tr data-asset="${a}" data-net="${s.moved[a] ?? '0'}" data-gained="${s.increased[a] ?? '0'}" data-lost="${s.decreased[a] ?? '0'}"><td class="mono">${a}</td><td class="num">${units(s.moved[a] ?? '0', dec.get(a))}</td><td class="num">${units(s.increased[a] ?? '0', dec.get(a))}</td><td class="num">${units(s.decreased[a] ?? '0', dec.get(a))}</td></tr>`)}</tbody></table></div>
${s.positions.length === 0 ? '' : html`<div class="table-wrap"><table><caption class="muted">Moved per market (sizes in 1e18 units)</caption><thead><tr><th scope="col">Market</th><th scope="col" class="num">Long</th><th scope="col" class="num">Short</th><th scope="col" class="num">Options bought</th><th scope="col" class="num">Options written</th><th scope="col" class="num">OI long</th><th scope="col" class="num">OI short</th></tr></thead>
<tbody>${s.positions.map((p) => html`<tr><th scope="row">${p.market}</th><td class="num">${units(p.longDelta, 18)}</td><td class="num">${units(p.shortDelta, 18)}</td><td class="num">${units(p.optionsBoughtDelta, 18)}</td><td class="num">${units(p.optionsWrittenDelta, 18)}</td><td class="num">${p.longOpenInterest === null ? '-' : units(p.longOpenInterest.delta, 18)}</td><td class="num">${p.shortOpenInterest === null ? '-' : units(p.shortOpenInterest.delta, 18)}</td></tr>`)}</tbody></table></div>`}
<div class="columns">${Object.entries(d.movers).map(([asset, m]) => html`<div class="table-wrap"><table><caption class="muted">Largest moves of <span class="mono">${short(asset, 8)}</span></caption><thead><tr><th scope="col"></th><th scope="col">Account</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>${m.gained.map((x) => html`<tr><td>gained</td><td class="mono"><a href="#/checkpoint/${to}/account/${x.account}">${short(x.account, 8)}</a></td><td class="num">${units(x.amount, dec.get(asset))}</td></tr>`)}${m.lost.map((x) => html`<tr><td>lost</td><td class="mono"><a href="#/checkpoint/${from}/account/${x.account}">${short(x.account, 8)}</a></td><td class="num">${units(x.amount, dec.get(asset))}</td></tr>`)}</tbody></table></div>`)}</div>
${s.marketChanges.length === 0 ? '' : html`<details><summary>Market state: ${s.marketChanges.length} field(s) changed</summary><pre>${JSON.stringify(s.marketChanges, null, 2)}</pre></details>`}`)
  } catch (e) {
    box.innerHTML = String(errorBox(e))
  }
  try {
    const [t, ev] = await Promise.all([api.totals(), api.evidence()])
    const names = [...new Set(t.points.flatMap((p) => Object.keys(p.totals)))].sort()
    const series = names.map((a) => ({ name: short(a, 6), points: t.points.map((p) => ({ x: p.block, y: Number(BigInt(p.totals[a] ?? '0')) })) }))
    const marks = [...t.points.filter((p) => p.kind === 'emergency').map((p) => ({ x: p.block, label: `emergency checkpoint at block ${p.block}`, short: 'E' })), ...ev.evidence.map((e) => ({ x: e.block, label: `equivocation by ${e.signer} at block ${e.block}`, short: '≠' }))]
    document.getElementById('chart').innerHTML = `${lineChart({ title: 'Total balance per asset at each checkpoint (each line scaled to its own maximum); incidents in red', series, marks, band: { from, to } })}<p class="muted">Shaded: the compared range. Red dashed lines: emergency checkpoints (E) and equivocation evidence (≠). ${String(reported())}</p>`
  } catch (e) {
    document.getElementById('chart').innerHTML = String(errorBox(e))
  }
}

async function networkView() {
  const [st, cps, ev, al, dv, ops] = await Promise.all([api.status(), api.checkpoints('?limit=100'), api.evidence(), api.alerts(), api.divergences(), api.operators()])
  const latestBy = new Map()
  for (const cp of cps.checkpoints) {
    const v = check(cp)
    for (const a of v.valid) latestBy.set(a, cp.block)
  }
  // every operator of the current set, and any other that signed a recent certificate
  const weights = new Map((ops?.operators ?? []).map((o) => [o.address.toLowerCase(), o.weight]))
  const everyone = [...new Set([...weights.keys(), ...latestBy.keys()])].sort()
  const lag = st.latestCertified === null ? null : BigInt(st.finalizedHead) - BigInt(st.latestCertified.block)
  show(
    html`<h2>Network and health</h2>
<section aria-labelledby="h-node"><h3 id="h-node">This node ${reported()}</h3><dl class="kv" id="node-status">
<dt>Operator</dt><dd class="mono">${st.operator}</dd><dt>Peer id</dt><dd class="mono">${st.peerId}</dd>
<dt>Peers</dt><dd data-peers="${st.peers}">${st.peers}</dd><dt>Finalized head</dt><dd>${st.finalizedHead}</dd>
<dt>Latest certified</dt><dd>${st.latestCertified?.block ?? 'none'}</dd><dt>Lag</dt><dd>${lag === null ? '-' : `${lag} blocks behind the finalized head`}</dd>
<dt>Next checkpoint</dt><dd>${st.nextCheckpoint ?? '-'}</dd><dt>Divergence reports</dt><dd>${st.divergences}</dd>
<dt>Fatal error</dt><dd>${st.fatal ?? 'none'}</dd></dl></section>
<section aria-labelledby="h-ops"><h3 id="h-ops">Operators: latest certified attestation</h3>
${ops === null ? '' : html`<p>Operator set at the finalized head: threshold ${ops.threshold} of total weight ${ops.totalWeight} ${reported()}</p>`}
<div class="table-wrap"><table id="operators"><thead><tr><th scope="col">Operator</th><th scope="col" class="num">Weight</th><th scope="col">Latest checkpoint signed</th><th scope="col">Status</th></tr></thead>
<tbody>${everyone.map((a) => html`<tr data-operator="${a}"><td class="mono">${a}</td><td class="num">${weights.get(a) ?? '-'}</td><td>${latestBy.has(a) ? html`<a href="#/checkpoint/${latestBy.get(a)}">${latestBy.get(a)}</a>` : 'none of the last certificates'}</td><td>${latestBy.has(a) ? verified('signature verified') : html`<span class="badge bad">no recent signature</span>`}</td></tr>`)}</tbody></table></div>
<p class="muted">Latest signatures from the last ${cps.checkpoints.length} certificates, each recovered in this browser.</p></section>
<section aria-labelledby="h-dv"><h3 id="h-dv">Divergence reports (${dv.divergences.length}) ${reported()}</h3>
${dv.divergences.length === 0 ? html`<p class="muted">None: this node's snapshots matched every certificate.</p>` : html`<ul>${dv.divergences.map((d) => html`<li>Block ${d.block}: this node derived <span class="mono">${short(d.ours, 10)}</span>, the certificate says <span class="mono">${short(d.certified, 10)}</span>; accounts: ${d.accounts.length === 0 ? 'none named' : d.accounts.map((x) => html`<span class="mono">${x}</span> `)}</li>`)}</ul>`}</section>
<section aria-labelledby="h-ev"><h3 id="h-ev">Equivocation evidence (${ev.evidence.length}) ${reported()}</h3>
${ev.evidence.length === 0 ? html`<p class="muted">None seen.</p>` : html`<ul>${ev.evidence.map((e) => html`<li>Operator <span class="mono">${e.signer}</span> signed two contents at block ${e.block}: <span class="mono">${short(e.a, 10)}</span> and <span class="mono">${short(e.b, 10)}</span></li>`)}</ul>`}</section>
<section aria-labelledby="h-al"><h3 id="h-al">Watchdog ${reported()}</h3>
${al === null ? html`<p class="muted">This node runs no watchdog.</p>` : html`<p>Active conditions: ${al.active?.length ?? 0}; alert quorums: ${al.quorums?.length ?? 0}; emergencies: ${al.emergencies?.length ?? 0}.</p><details><summary>Watchdog state</summary><pre>${JSON.stringify(al, null, 2)}</pre></details>`}</section>`,
    'Network',
  )
}

async function render() {
  const [path, q = ''] = location.hash.replace(/^#/, '').split('?')
  const params = new URLSearchParams(q)
  const parts = (path || '/').split('/').filter((x) => x !== '')
  try {
    if (parts[0] === 'checkpoint' && parts[1] !== undefined) await checkpointView(parts[1], parts[2] === 'account' ? parts[3] : undefined)
    else if (parts[0] === 'diff') await diffView(parts[1], parts[2])
    else if (parts[0] === 'network') await networkView()
    else await checkpointsView(params)
  } catch (e) {
    show(errorBox(e), 'Error')
  }
  view.dataset.ready = location.hash
}

document.addEventListener('click', (ev) => {
  const b = ev.target.closest('[data-copy]')
  if (b !== null) {
    navigator.clipboard?.writeText(b.dataset.copy).then(
      () => (b.textContent = 'Copied'),
      () => (b.textContent = 'Select and copy'),
    )
  }
})

const form = document.getElementById('node-form')
document.getElementById('node-url').value = new URLSearchParams(location.search).get('node') ?? ''
form.addEventListener('submit', (ev) => {
  ev.preventDefault()
  const v = document.getElementById('node-url').value.trim()
  const u = new URL(location.href)
  if (v === '') u.searchParams.delete('node')
  else u.searchParams.set('node', v)
  location.href = u.toString()
})

window.addEventListener('hashchange', () => {
  void render().then(() => view.focus())
})
void render()
