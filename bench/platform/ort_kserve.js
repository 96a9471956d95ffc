// The peer of bench/platform/tensors.sh: a KServe v2 JSON endpoint written as a user would write
// one, onnxruntime-node behind node's own http server (no framework). POST
// /v2/models/NAME/infer with {"inputs":[{name,shape,datatype:"FP32",data}]} answers
// {"model_name","outputs":[{name,shape,datatype,data}]}.
// usage: node ort_kserve.js MODEL.onnx THREADS   (prints "listening on http://127.0.0.1:PORT")
'use strict';
const http = require('http');
const path = require('path');
const ort = require(path.join(__dirname, '..', 'node_modules', 'onnxruntime-node'));

async function main() {
    const [model, threads] = process.argv.slice(2);
    const session = await ort.InferenceSession.create(model, {
        graphOptimizationLevel: 'all', executionMode: 'sequential',
        intraOpNumThreads: Number(threads || 1), interOpNumThreads: 1,
    });
    const server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', c => chunks.push(c));
        req.on('end', async () => {
            try {
                const body = JSON.parse(Buffer.concat(chunks).toString());
                const feeds = {};
                for (const t of body.inputs)
                    feeds[t.name] = new ort.Tensor('float32', Float32Array.from(t.data.flat(Infinity)), t.shape);
                const out = await session.run(feeds);
                const outputs = Object.entries(out).map(([name, t]) => ({
                    name, shape: t.dims, datatype: 'FP32', data: Array.from(t.data) }));
                res.writeHead(200, { 'Content-Type': 'application/json' });
                res.end(JSON.stringify({ model_name: 'model', outputs }));
            } catch (e) {
                res.writeHead(400, { 'Content-Type': 'application/json' });
                res.end(JSON.stringify({ error: String(e.message || e) }));
            }
        });
    });
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => {
        console.log(`listening on http://127.0.0.1:${server.address().port}`);
    });
}
main().catch(e => { console.error(e); process.exit(1); });
