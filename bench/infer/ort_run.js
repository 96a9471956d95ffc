// One ONNX Runtime measurement in a fresh node process (driven by bench/infer/compare.py).
// usage: node ort_run.js MODEL.onnx INPUT.npy REF_OUTPUT.npy THREADS MAX_ITERS BUDGET_S
// Prints one JSON line: load-phase times, cold start (from FM_T0_MS, the wall-clock ms at which
// the driver spawned this process, to the first output), per-iteration warm latencies in ms, and
// the first output's max abs error against PyTorch's reference output.
'use strict';
const t0 = performance.now();
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '..', 'node_modules', 'onnxruntime-node'));
const tRequire = performance.now();

// Read a little-endian C-order .npy file (versions 1-3) into {dtype, shape, data}.
function readNpy(file) {
    const b = fs.readFileSync(file);
    if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`'${file}' is not a .npy file`);
    const major = b[6];
    const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
    const off = major === 1 ? 10 + hlen : 12 + hlen;
    const h = b.toString('latin1', major === 1 ? 10 : 12, off);
    const descr = /'descr':\s*'([^']+)'/.exec(h)[1];
    if (/'fortran_order':\s*True/.test(h)) throw new Error(`'${file}': fortran order`);
    const shape = /'shape':\s*\(([^)]*)\)/.exec(h)[1].split(',').filter(s => s.trim()).map(Number);
    const types = { '<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array],
                    '<i4': ['int32', Int32Array] };
    if (!types[descr]) throw new Error(`'${file}': unsupported dtype ${descr}`);
    const [dtype, Arr] = types[descr];
    const copy = b.buffer.slice(b.byteOffset + off, b.byteOffset + b.length); // aligned copy
    return { dtype, shape, data: new Arr(copy) };
}

async function main() {
    const [model, inputFile, refFile, threads, maxIters, budgetS] = process.argv.slice(2);
    const x = readNpy(inputFile);
    const session = await ort.InferenceSession.create(model, {
        graphOptimizationLevel: 'all', executionMode: 'sequential',
        intraOpNumThreads: Number(threads), interOpNumThreads: 1,
    });
    const tSession = performance.now();
    const feeds = { [session.inputNames[0]]: new ort.Tensor(x.dtype, x.data, x.shape) };
    const out = (await session.run(feeds))[session.outputNames[0]];
    const tFirst = performance.now();
    const coldMs = process.env.FM_T0_MS
        ? performance.timeOrigin + tFirst - Number(process.env.FM_T0_MS) : null;

    const ref = readNpy(refFile);
    let err = 0, absmax = 0;
    for (let i = 0; i < ref.data.length; i++) {
        err = Math.max(err, Math.abs(out.data[i] - ref.data[i]));
        absmax = Math.max(absmax, Math.abs(ref.data[i]));
    }
    const sameShape = out.dims.length === ref.shape.length &&
        out.dims.every((d, i) => d === ref.shape[i]);

    await session.run(feeds); // one more warm-up after the cold run
    const lat = [];
    const tEnd = performance.now() + Number(budgetS) * 1000;
    while (lat.length < Number(maxIters) && (lat.length < 5 || performance.now() < tEnd)) {
        const s = performance.now();
        await session.run(feeds);
        lat.push(performance.now() - s);
    }
    console.log(JSON.stringify({
        runtime: 'ort', version: ort.env.versions.node,
        import_ms: tRequire - t0, load_ms: tSession - tRequire, first_run_ms: tFirst - tSession,
        cold_ms: coldMs, lat_ms: lat, max_abs_err: sameShape ? err : null, ref_absmax: absmax,
    }));
}

main().catch(e => { console.error(`ort_run: ${e.message}`); process.exit(1); });
