/// The web interface's page, style and script, served as they are (no build step, nothing fetched from elsewhere).
enum WebUIAssets {
    static let html = #"""
        <!DOCTYPE html>
        <html lang="zh-CN">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>代理出口货物证明 · certchain</title>
        <link rel="stylesheet" href="/ui/app.css">
        <script src="/ui/app.js" defer></script>
        </head>
        <body>
        <header class="top noprint">
          <a class="brand" href="#/"><span class="zh">代理出口货物证明</span><span class="en">certchain · Certificate of Agency Export of Goods</span></a>
          <nav>
            <a href="#/"><span class="zh">证明查询</span><span class="en">Certificate</span></a>
            <a href="#/search"><span class="zh">审计检索</span><span class="en">Audit search</span></a>
            <a href="#/refunds"><span class="zh">退税汇总</span><span class="en">Refunds</span></a>
            <a href="#/blocks"><span class="zh">区块</span><span class="en">Blocks</span></a>
            <a href="#/session" id="session-link"><span class="zh">会话</span><span class="en">Session</span></a>
          </nav>
        </header>
        <main id="app"><p class="muted">加载中 Loading…</p></main>
        <noscript><p>此页面需要 JavaScript。 This page needs JavaScript.</p></noscript>
        </body>
        </html>

        """#

    static let style = #"""
        :root { --ink: #1b1b1b; --line: #555; --muted: #6b6b6b; --accent: #9b1c1c; --bg: #f6f4ef; }
        * { box-sizing: border-box; }
        body { margin: 0; font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "PingFang SC", sans-serif; color: var(--ink); background: var(--bg); font-size: 14px; }
        a { color: #1d4f91; }
        .top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 8px; padding: 8px 16px; background: #7f1d1d; color: #fff; }
        .top a { color: #fff; text-decoration: none; }
        .brand .zh { font-size: 18px; font-weight: bold; margin-right: 8px; }
        .brand .en { font-size: 12px; opacity: .85; }
        nav a { margin-left: 14px; display: inline-block; text-align: center; }
        nav a .zh { display: block; }
        nav a .en { display: block; font-size: 10px; opacity: .8; }
        main { max-width: 1150px; margin: 16px auto; padding: 0 12px; }
        .en { color: inherit; }
        .label .en, th .en, .sub { display: block; font-size: 10px; color: var(--muted); font-weight: normal; }
        .muted { color: var(--muted); }
        .error { background: #fde8e8; border: 1px solid #e3a0a0; padding: 8px 12px; margin: 8px 0; }
        .card { background: #fff; border: 1px solid #ddd; padding: 12px 16px; margin: 12px 0; }
        h2 { margin: 8px 0; font-size: 18px; } h2 .en { font-size: 12px; color: var(--muted); font-weight: normal; margin-left: 8px; }
        form.inline { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; }
        form.inline label { display: flex; flex-direction: column; font-size: 12px; }
        input, select, textarea, button { font: inherit; padding: 4px 6px; }
        button { cursor: pointer; }
        textarea { width: 100%; font-family: monospace; }
        table { border-collapse: collapse; width: 100%; }
        td, th { border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }
        th { background: #f1eee6; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        .mono, .hash { font-family: monospace; font-size: 12px; word-break: break-all; }
        .badge { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; font-weight: bold; }
        .status-issued { background: #1d6f42; } .status-partiallyConsumed { background: #b7791f; } .status-consumed { background: #4a5568; } .status-revoked { background: #9b1c1c; }
        .pager { margin: 8px 0; display: flex; gap: 12px; align-items: center; }
        /* The paper form */
        .paper { background: #fff; border: 1px solid #bbb; padding: 28px 32px; margin: 16px 0; box-shadow: 0 1px 4px rgba(0,0,0,.08); }
        .paper .title { text-align: center; font-size: 24px; letter-spacing: 6px; font-weight: bold; margin: 0; }
        .paper .subtitle { text-align: center; color: var(--muted); margin: 2px 0 12px; font-size: 12px; letter-spacing: 1px; }
        .paper .number { text-align: right; margin-bottom: 8px; }
        .paper .number b { font-family: monospace; font-size: 15px; color: var(--accent); }
        .paper table { margin: 6px 0; }
        .paper td, .paper th { border: 1px solid var(--line); }
        .paper th { background: #fff; font-size: 12px; }
        .paper tr.totals td { font-weight: bold; background: #faf7f0; }
        .review { display: grid; grid-template-columns: 1fr 170px; gap: 12px; border: 1px solid var(--line); padding: 10px 12px; margin-top: 8px; }
        .review .seal { color: var(--accent); border: 2px solid var(--accent); border-radius: 50%; width: 110px; height: 110px; display: flex; align-items: center; justify-content: center; text-align: center; font-size: 12px; margin-top: 8px; transform: rotate(-8deg); }
        .review dl { display: grid; grid-template-columns: 140px 1fr; margin: 0; row-gap: 4px; }
        .review dt .en { display: block; font-size: 10px; color: var(--muted); }
        .qr { text-align: center; font-size: 10px; color: var(--muted); }
        .qr img { width: 150px; height: 150px; image-rendering: pixelated; }
        .qr .payload { word-break: break-all; font-family: monospace; font-size: 9px; }
        .pageno { text-align: right; margin-top: 10px; }
        /* Timeline */
        ol.timeline { list-style: none; padding-left: 0; border-left: 3px solid #c9b99a; margin-left: 8px; }
        ol.timeline li { position: relative; padding: 4px 0 10px 18px; }
        ol.timeline li::before { content: ""; position: absolute; left: -8px; top: 8px; width: 13px; height: 13px; border-radius: 50%; background: #7f1d1d; }
        ol.timeline .kind { font-weight: bold; }
        ol.timeline .meta { color: var(--muted); font-size: 12px; }
        @media print {
          @page { size: A4 landscape; margin: 12mm; }
          body { background: #fff; font-size: 11pt; }
          .noprint, .top, .card, .timeline-section, .status-section { display: none !important; }
          main { max-width: none; margin: 0; padding: 0; }
          .paper { border: none; box-shadow: none; padding: 0; margin: 0; page-break-after: always; break-after: page; }
          .paper:last-of-type { page-break-after: auto; break-after: auto; }
          a { color: inherit; text-decoration: none; }
        }

        """#

    static let script = #"""
        'use strict';
        // certchain web interface: reads the node's API with a session token (Authorization: Bearer).
        const TOKEN_KEY = 'certchain.token';
        const LINES_PER_PAGE = 8;
        const STATUS = { issued: ['已开具', 'issued'], partiallyConsumed: ['部分使用', 'partially consumed'], consumed: ['已使用', 'consumed'], revoked: ['已作废', 'revoked'] };
        const KINDS = {
          recordDeclaration: ['报关单录入', 'customs declaration recorded'], applyCertificate: ['申请开具', 'application'],
          issueCertificate: ['开具证明', 'issuance'], rejectApplication: ['申请退回', 'application rejected'],
          revokeCertificate: ['证明作废', 'revocation'], claimRefund: ['申报退税', 'refund claim'],
          approveRefund: ['退税审批', 'refund approved'], rejectRefund: ['退税不予批准', 'refund rejected'],
          registerEnterprise: ['企业登记', 'enterprise registered'], fileTradeOperator: ['对外贸易经营者备案', 'trade operator filed'],
        };

        function h(tag, attrs, ...children) {
          const el = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) {
            if (v == null || v === false) continue;
            if (k === 'class') el.className = v;
            else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
            else el.setAttribute(k, v);
          }
          for (const c of children.flat(Infinity)) {
            if (c == null || c === false) continue;
            el.append(c instanceof Node ? c : document.createTextNode(String(c)));
          }
          return el;
        }
        const L = (zh, en, tag = 'span') => h(tag, { class: 'label' }, h('span', { class: 'zh' }, zh), h('span', { class: 'en' }, en));
        const TH = (zh, en, cls) => h('th', { class: cls }, zh, h('span', { class: 'en' }, en));
        const H2 = (zh, en) => h('h2', {}, zh, h('span', { class: 'en' }, en));
        const statusBadge = (s) => h('span', { class: 'badge status-' + s, 'data-status': s }, (STATUS[s] || [s, s]).join(' '));
        const certLink = (n) => h('a', { href: '#/cert/' + encodeURIComponent(n) }, n);
        const blockLink = (height) => h('a', { href: '#/block/' + height }, String(height));

        // --- session token ---------------------------------------------------------------------------
        function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
        function setToken(t) { if (t) sessionStorage.setItem(TOKEN_KEY, t.trim()); else sessionStorage.removeItem(TOKEN_KEY); }

        class ApiError extends Error {
          constructor(status, body) { super((body && body.message) || ('HTTP ' + status)); this.status = status; this.code = body && body.error; }
        }
        async function api(path) {
          const headers = token() ? { Authorization: 'Bearer ' + token() } : {};
          const response = await fetch(path, { headers, cache: 'no-store' });
          let body = null;
          try { body = await response.json(); } catch (e) { body = null; }
          if (!response.ok) throw new ApiError(response.status, body);
          return body;
        }
        function showError(container, error) {
          const box = h('div', { class: 'error' }, h('b', {}, error.status ? `HTTP ${error.status} ${error.code || ''} ` : ''), error.message);
          if (error.status === 401) box.append(h('div', {}, '请粘贴会话令牌 Paste a session token: ', h('a', { href: '#/session' }, '会话 Session')));
          container.append(box);
        }

        // --- routing ---------------------------------------------------------------------------------
        function parseHash() {
          let hash = location.hash.replace(/^#/, '');
          if (hash.startsWith('token=')) hash = '/?' + hash;
          const q = hash.indexOf('?');
          const path = (q < 0 ? hash : hash.slice(0, q)) || '/';
          const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
          if (params.has('token')) {
            setToken(params.get('token'));
            params.delete('token');
            const rest = params.toString();
            history.replaceState(null, '', '#' + path + (rest ? '?' + rest : ''));
          }
          return { path, params };
        }
        function go(path, params) {
          const entries = Object.entries(params || {}).filter(([, v]) => v != null && v !== '');
          location.hash = '#' + path + (entries.length ? '?' + new URLSearchParams(entries).toString() : '');
        }
        async function route() {
          const { path, params } = parseHash();
          const app = document.getElementById('app');
          app.replaceChildren();
          document.getElementById('session-link').classList.toggle('active', !!token());
          const parts = path.split('/').filter(Boolean);
          try {
            if (parts[0] === 'cert' && parts[1]) await certificatePage(app, decodeURIComponent(parts[1]));
            else if (parts[0] === 'search') await searchPage(app, params);
            else if (parts[0] === 'refunds') await refundsPage(app, params);
            else if (parts[0] === 'blocks') await blocksPage(app, params);
            else if (parts[0] === 'block' && parts[1]) await blockPage(app, parts[1]);
            else if (parts[0] === 'tx' && parts[1]) await transactionPage(app, parts[1]);
            else if (parts[0] === 'session') await sessionPage(app);
            else await homePage(app);
          } catch (error) {
            showError(app, error);
          }
          document.body.setAttribute('data-ready', 'true');
        }
        window.addEventListener('hashchange', route);
        window.addEventListener('DOMContentLoaded', route);

        // --- pages -----------------------------------------------------------------------------------
        function lookupForm() {
          const input = h('input', { name: 'number', placeholder: '440300202100000001', size: 24, required: 'required', pattern: '[0-9]+' });
          return h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); go('/cert/' + input.value.trim()); } },
            h('label', {}, L('证明编号', 'Certificate number'), input), h('button', { type: 'submit' }, '查询 Look up'));
        }
        function tokenBox() {
          const area = h('textarea', { rows: 2, placeholder: '64 hex characters from certchain login / POST /v1/sessions' });
          const note = h('p', { class: 'muted' }, token() ? `当前令牌 Current token …${token().slice(-6)}` : '尚无令牌 No token yet');
          return h('div', { class: 'card' }, H2('会话令牌', 'Session token'),
            h('p', {}, '运行 Run ', h('code', {}, 'certchain login --api URL --key FILE.pem --identity ID'), ' 并打开其输出的链接，或粘贴令牌。 and open the link it prints, or paste the token.'),
            area, note,
            h('button', { onclick: () => { setToken(area.value); route(); } }, '保存 Save'), ' ',
            h('button', { onclick: async () => {
              if (token()) { try { await fetch('/v1/sessions', { method: 'DELETE', headers: { Authorization: 'Bearer ' + token() } }); } catch (e) { /* ended anyway */ } }
              setToken(''); route();
            } }, '退出 Log out'));
        }
        async function homePage(app) {
          app.append(h('div', { class: 'card' }, H2('证明查询', 'Look up a certificate'), lookupForm()));
          if (!token()) app.append(tokenBox());
          else app.append(h('p', { class: 'muted' }, `会话令牌已保存 Session token saved …${token().slice(-6)} `, h('a', { href: '#/session' }, '(更换 change / 退出 log out)')));
          try {
            const s = await api('/v1/status');
            app.append(h('div', { class: 'card' }, H2('节点', 'Node'), h('table', {}, h('tbody', {},
              [['链', 'Chain', s.chainId], ['节点', 'Node', `${s.nodeId} (${s.organization})`], ['高度', 'Height', s.height],
               ['视图/主节点', 'View / primary', `${s.view} / ${s.primary}`], ['最新区块', 'Last block', s.lastBlockHash]]
                .map(([zh, en, v]) => h('tr', {}, TH(zh, en), h('td', { class: 'mono' }, v)))))));
          } catch (error) { showError(app, error); }
        }
        async function sessionPage(app) { app.append(tokenBox()); }

        function qrPayload(chainId, number) {
          return `${location.protocol}//${location.host}/v1/certificates/${number}?proof=true#chain=${chainId}&cert=${number}`;
        }

        function paperPages(c, chainId) {
          const pages = Math.max(1, Math.ceil(c.lines.length / LINES_PER_PAGE));
          const out = [];
          for (let p = 0; p < pages; p++) {
            const lines = c.lines.slice(p * LINES_PER_PAGE, (p + 1) * LINES_PER_PAGE);
            const last = p === pages - 1;
            const rows = lines.map((l) => h('tr', { class: 'line' },
              h('td', { class: 'num' }, l.lineNo), h('td', { class: 'mono' }, `${l.declarationNo}-${l.itemNo}`), h('td', {}, l.exportDate),
              h('td', { class: 'mono' }, l.verificationFormNo || ''), h('td', {}, l.tradeMode), h('td', { class: 'mono' }, l.hsCode),
              h('td', { class: 'goods' }, l.goodsName), h('td', {}, l.unit), h('td', { class: 'num' }, l.quantity), h('td', {}, l.currency),
              h('td', { class: 'num' }, l.fob), h('td', { class: 'mono' }, l.contractNo)));
            if (last) {
              const qty = c.quantityTotals.map((t) => `${t.total} ${t.unit || ''}`.trim()).join('; ');
              const fob = c.fobTotals.map((t) => `${t.currency || ''} ${t.total}`.trim()).join('; ');
              rows.push(h('tr', { class: 'totals' }, h('td', { colspan: 8 }, '合计 ', h('span', { class: 'en' }, 'Totals')),
                h('td', { class: 'num', colspan: 2 }, qty), h('td', { class: 'num', colspan: 2 }, fob)));
            }
            const page = h('section', { class: 'paper' },
              h('p', { class: 'title' }, '代理出口货物证明'), h('p', { class: 'subtitle' }, 'Certificate of Agency Export of Goods'),
              h('div', { class: 'number' }, '编号 No. ', h('b', {}, c.certificateNumber)),
              h('table', { class: 'parties' }, h('tbody', {},
                h('tr', {}, TH('受托企业名称', 'Agent'), h('td', {}, c.agent.name), TH('纳税人识别号', 'Taxpayer ID'), h('td', { class: 'mono' }, c.agent.taxId)),
                h('tr', {}, TH('委托企业名称', 'Principal'), h('td', {}, c.principal.name), TH('纳税人识别号', 'Taxpayer ID'), h('td', { class: 'mono' }, c.principal.taxId)))),
              h('table', { class: 'goods' },
                h('thead', {}, h('tr', {}, TH('序号', 'No.', 'num'), TH('出口货物报关单号', 'Declaration-item'), TH('出口日期', 'Export date'),
                  TH('核销单号', 'Verification form'), TH('贸易方式', 'Trade mode'), TH('商品代码', 'HS code'), TH('货物名称', 'Goods'),
                  TH('计量单位', 'Unit'), TH('数量', 'Quantity', 'num'), TH('币种', 'Currency'), TH('出口额(离岸价)', 'FOB', 'num'), TH('合同号', 'Contract'))),
                h('tbody', {}, rows)));
            if (last) {
              page.append(h('div', { class: 'review' },
                h('div', {},
                  h('div', {}, h('b', {}, '税务机关审核意见'), h('span', { class: 'sub' }, 'Review by the tax authority')),
                  h('p', {}, '经审核，上述货物已代理出口，特此证明。 ', h('span', { class: 'en sub' }, 'Reviewed: the goods above were exported by the agent.')),
                  h('dl', {},
                    h('dt', {}, '签发机关', h('span', { class: 'en' }, 'Issuing bureau')), h('dd', { class: 'bureau' }, c.bureau),
                    h('dt', {}, '经办人', h('span', { class: 'en' }, 'Handler')), h('dd', { class: 'handler' }, `${c.handler}　${c.handledOn}`),
                    h('dt', {}, '复核人', h('span', { class: 'en' }, 'Reviewer')), h('dd', { class: 'reviewer' }, `${c.reviewer}　${c.reviewedOn}`),
                    h('dt', {}, '状态', h('span', { class: 'en' }, 'Status')), h('dd', {}, statusBadge(c.status), c.revocationReason ? `　作废原因 Reason: ${c.revocationReason}` : '')),
                  h('div', { class: 'seal' }, c.bureau, h('br'), '(链上签发 on-chain)')),
                h('div', { class: 'qr' },
                  h('img', { src: `/ui/qr/${encodeURIComponent(c.certificateNumber)}.svg`, alt: 'QR: verification URL' }),
                  h('div', {}, '扫码验证 Scan to verify'), h('div', { class: 'payload' }, qrPayload(chainId, c.certificateNumber)))));
            }
            page.append(h('div', { class: 'pageno' }, `第 ${p + 1} 页 共 ${pages} 页`, h('span', { class: 'en sub' }, `Page ${p + 1} of ${pages}`)));
            out.push(page);
          }
          return out;
        }

        function usageSection(c) {
          return h('div', { class: 'card status-section' }, H2('状态与余量', 'Status and remaining quantities'),
            h('p', {}, statusBadge(c.status), '　签发于区块 Issued in block ', blockLink(c.issuedAt.height), '，交易 tx ',
              h('a', { class: 'hash', href: '#/tx/' + c.issuedAt.txHash }, c.issuedAt.txHash), '，申请 application ', c.applicationId),
            h('table', {}, h('thead', {}, h('tr', {}, TH('序号', 'Line', 'num'), TH('货物名称', 'Goods'), TH('证明数量', 'Certified', 'num'),
              TH('已申报待退', 'claimPending', 'num'), TH('已使用', 'consumed', 'num'), TH('剩余', 'remaining', 'num'), TH('单位', 'Unit'))),
              h('tbody', {}, c.lines.map((l) => h('tr', {}, h('td', { class: 'num' }, l.lineNo), h('td', {}, l.goodsName), h('td', { class: 'num' }, l.quantity),
                h('td', { class: 'num' }, l.claimPending), h('td', { class: 'num' }, l.consumed), h('td', { class: 'num' }, l.remaining), h('td', {}, l.unit))))));
        }

        function timelineSection(history) {
          return h('div', { class: 'card timeline-section' }, H2('来历', 'Provenance timeline'),
            h('p', { class: 'muted' }, `${history.entries.length} 笔交易，按时间顺序 transactions, oldest first`),
            h('ol', { class: 'timeline' }, history.entries.map((e) => h('li', { 'data-kind': e.kind },
              h('div', {}, h('span', { class: 'kind' }, (KINDS[e.kind] || [e.kind])[0]), ' ', h('span', { class: 'muted' }, `${(KINDS[e.kind] || [, ''])[1]} (${e.kind})`)),
              h('div', { class: 'meta' }, `日期 date ${e.effectiveDate} · 区块 block `, blockLink(e.height), ` #${e.index} · 签名者 signer ${e.signer}`),
              h('div', {}, 'tx ', h('a', { class: 'hash', href: '#/tx/' + e.txHash }, e.txHash))))));
        }

        async function certificatePage(app, number) {
          app.append(h('div', { class: 'card noprint' }, lookupForm(), h('p', {}, h('button', { onclick: () => window.print() }, '打印 Print'),
            ' ', h('a', { href: `/v1/certificates/${encodeURIComponent(number)}?proof=true`, class: 'muted' }, '(?proof=true JSON)'))));
          const [c, history, status] = await Promise.all([
            api(`/v1/certificates/${encodeURIComponent(number)}`), api(`/v1/certificates/${encodeURIComponent(number)}/history`), api('/v1/status')]);
          document.title = `${c.certificateNumber} · 代理出口货物证明`;
          app.append(...paperPages(c, status.chainId), usageSection(c), timelineSection(history));
        }

        function queryForm(fields, params, path) {
          const inputs = {};
          const form = h('form', { class: 'inline', onsubmit: (e) => {
            e.preventDefault();
            go(path, Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()])));
          } });
          for (const [name, zh, en, options] of fields) {
            const el = options ? h('select', { name }, h('option', { value: '' }, '(任意 any)'), options.map((o) => h('option', { value: o }, o)))
              : h('input', { name, size: name.length > 6 ? 22 : 12 });
            el.value = params.get(name) || '';
            inputs[name] = el;
            form.append(h('label', {}, L(zh, en), el));
          }
          form.append(h('button', { type: 'submit' }, '检索 Search'));
          return form;
        }
        function pager(path, params, next) {
          const base = Object.fromEntries([...params.entries()].filter(([k]) => k !== 'after'));
          return h('div', { class: 'pager' },
            params.get('after') ? h('a', { href: '#', onclick: (e) => { e.preventDefault(); go(path, base); } }, '« 第一页 First page') : null,
            next ? h('a', { class: 'next', href: '#', onclick: (e) => { e.preventDefault(); go(path, { ...base, after: next }); } }, '下一页 Next page »')
              : h('span', { class: 'muted' }, '没有更多 No more results'));
        }
        function queryString(params, keys) {
          const q = new URLSearchParams();
          for (const k of keys) if (params.get(k)) q.set(k, params.get(k));
          const s = q.toString();
          return s ? '?' + s : '';
        }

        async function searchPage(app, params) {
          const fields = [['agent', '受托企业', 'Agent tax ID'], ['principal', '委托企业', 'Principal tax ID'], ['declaration', '报关单号', 'Declaration No.'],
            ['status', '状态', 'Status', Object.keys(STATUS)], ['issuedFrom', '签发起', 'Issued from (YYYY-MM-DD)'], ['issuedTo', '签发止', 'Issued to'],
            ['limit', '每页', 'Per page']];
          app.append(h('div', { class: 'card' }, H2('证明检索', 'Certificate search (auditor)'), queryForm(fields, params, '/search')));
          const result = await api('/v1/certificates' + queryString(params, [...fields.map((f) => f[0]), 'after']));
          const rows = result.items.map((c) => h('tr', { class: 'result' },
            h('td', { class: 'mono' }, certLink(c.certificateNumber)), h('td', {}, statusBadge(c.status)),
            h('td', {}, c.agent.name, h('div', { class: 'sub mono' }, c.agent.taxId)), h('td', {}, c.principal.name, h('div', { class: 'sub mono' }, c.principal.taxId)),
            h('td', {}, c.issuedAt.effectiveDate), h('td', { class: 'num' }, c.lines.length),
            h('td', {}, [...new Set(c.lines.map((l) => l.goodsName))].join('、')),
            h('td', { class: 'num' }, c.fobTotals.map((t) => `${t.currency || ''} ${t.total}`).join('; '))));
          app.append(h('div', { class: 'card' }, h('p', {}, `本页 ${result.items.length} 份证明 certificates on this page (每页上限 limit ${result.limit})`),
            h('table', {}, h('thead', {}, h('tr', {}, TH('编号', 'Number'), TH('状态', 'Status'), TH('受托企业', 'Agent'), TH('委托企业', 'Principal'),
              TH('签发日期', 'Issued'), TH('行数', 'Lines', 'num'), TH('货物', 'Goods'), TH('出口额合计', 'FOB totals', 'num'))), h('tbody', {}, rows)),
            pager('/search', params, result.next)));
        }

        async function refundsPage(app, params) {
          const fields = [['principal', '委托企业', 'Principal tax ID'], ['period', '所属期', 'Period YYYYMM'], ['from', '起', 'From YYYYMM'],
            ['to', '止', 'To YYYYMM'], ['limit', '每页', 'Per page']];
          app.append(h('div', { class: 'card' }, H2('已批准退税', 'Approved refunds (auditor)'), queryForm(fields, params, '/refunds')));
          const result = await api('/v1/refunds' + queryString(params, [...fields.map((f) => f[0]), 'after']));
          const t = result.totals || {};
          app.append(h('div', { class: 'card' },
            h('table', {}, h('thead', {}, h('tr', {}, TH('申报号', 'Claim'), TH('委托企业', 'Principal'), TH('所属期', 'Period'), TH('方法', 'Method'),
              TH('退税额', 'Refund', 'num'), TH('免抵额', 'Exempt credit', 'num'), TH('批准', 'Approved (block, date, signer)'))),
              h('tbody', {}, result.items.map((r) => h('tr', { class: 'result' }, h('td', { class: 'mono' }, r.claimId), h('td', { class: 'mono' }, r.principalTaxId),
                h('td', {}, r.period), h('td', {}, r.method), h('td', { class: 'num' }, r.refund), h('td', { class: 'num' }, r.exemptCredit),
                h('td', {}, blockLink(r.approvedAt.height), ` ${r.approvedAt.effectiveDate} ${r.approvedAt.signer}`)))),
              h('tfoot', {}, h('tr', { class: 'totals' }, h('td', { colspan: 4 }, `合计 Totals (全部结果 whole selection): ${t.claims} 笔 claims`),
                h('td', { class: 'num' }, t.refund), h('td', { class: 'num' }, t.exemptCredit), h('td', {})))),
            pager('/refunds', params, result.next)));
        }

        function formatTime(ms) { return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'); }

        async function blocksPage(app, params) {
          const status = await api('/v1/status');
          const top = Math.min(status.height, Number(params.get('before')) || status.height);
          const heights = [];
          for (let k = top; k >= 1 && heights.length < 20; k--) heights.push(k);
          const blocks = await Promise.all(heights.map((k) => api('/v1/blocks/' + k)));
          app.append(h('div', { class: 'card' }, H2('最近区块', 'Recent blocks'), h('p', {}, `链 chain ${status.chainId} · 高度 height ${status.height}`),
            h('table', {}, h('thead', {}, h('tr', {}, TH('高度', 'Height', 'num'), TH('时间', 'Time'), TH('提议者', 'Proposer'), TH('交易数', 'Transactions', 'num'),
              TH('签名', 'Commit signatures', 'num'), TH('哈希', 'Hash'))),
              h('tbody', {}, blocks.map((b) => h('tr', { class: 'result' }, h('td', { class: 'num' }, blockLink(b.header.height)), h('td', {}, formatTime(b.header.timestampMs)),
                h('td', {}, b.header.proposer), h('td', { class: 'num' }, b.transactions.length), h('td', { class: 'num' }, b.commitCertificate.signatures.length),
                h('td', { class: 'hash' }, b.hash))))),
            h('div', { class: 'pager' }, top > 20 ? h('a', { href: `#/blocks?before=${top - 20}` }, '更早 Older »') : null)));
        }

        async function blockPage(app, height) {
          const b = await api('/v1/blocks/' + encodeURIComponent(height));
          const x = b.header;
          const rows = [['高度', 'Height', x.height], ['区块哈希', 'Block hash', b.hash], ['链', 'Chain', x.chainId], ['前一区块', 'Previous hash', x.previousHash],
            ['时间', 'Timestamp', `${formatTime(x.timestampMs)} (${x.timestampMs})`], ['视图', 'View', x.view], ['提议者', 'Proposer', x.proposer],
            ['交易根', 'Transaction root', x.txRoot], ['收据根', 'Receipt root', x.receiptRoot], ['状态根', 'State root', x.stateRoot]];
          app.append(h('div', { class: 'card' }, H2(`区块 ${x.height}`, `Block ${x.height}`),
            h('div', { class: 'pager' }, x.height > 1 ? h('a', { href: `#/block/${x.height - 1}` }, '« 上一个 Previous') : null, h('a', { href: `#/block/${x.height + 1}` }, '下一个 Next »')),
            h('table', {}, h('tbody', {}, rows.map(([zh, en, v]) => h('tr', {}, TH(zh, en), h('td', { class: 'mono' }, v)))))),
            h('div', { class: 'card' }, H2(`交易 (${b.transactions.length})`, 'Transaction ids'),
              h('ol', {}, b.transactions.map((t) => h('li', {}, h('a', { class: 'hash', href: '#/tx/' + t }, t))))),
            h('div', { class: 'card' }, H2('提交证书', `Commit certificate: ${b.commitCertificate.signatures.length} validator signatures over ${b.commitCertificate.blockHash}`),
              h('table', {}, h('thead', {}, h('tr', {}, TH('验证节点', 'Validator'), TH('签名', 'Signature'))),
                h('tbody', {}, b.commitCertificate.signatures.map((s) => h('tr', { class: 'signer' }, h('td', {}, s.validator), h('td', { class: 'hash' }, s.signature)))))));
        }

        async function transactionPage(app, hash) {
          const t = await api('/v1/transactions/' + encodeURIComponent(hash));
          app.append(h('div', { class: 'card' }, H2('交易', 'Transaction'),
            h('p', {}, h('span', { class: 'hash' }, t.txHash), ' · ', t.status, t.height ? [' · 区块 block ', blockLink(t.height), ` #${t.index}`] : null),
            h('pre', { class: 'mono' }, JSON.stringify(t.receipt, null, 2))));
        }

        """#
}
