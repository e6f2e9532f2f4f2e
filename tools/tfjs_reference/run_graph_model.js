const tf = require('@tensorflow/tfjs');
const fs = require('fs');
async function main() {
  const [model, inputPath, shapeStr, dtype, outName, outPath] = process.argv.slice(2);
  const json = JSON.parse(fs.readFileSync(model + '.json'));
  const bin = fs.readFileSync(model + '.bin');
  const weightSpecs = json.weightsManifest.flatMap(g => g.weights);
  const m = await tf.loadGraphModel(tf.io.fromMemory({modelTopology: json.modelTopology, weightSpecs,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength)}));
  const raw = fs.readFileSync(inputPath);
  const arr = dtype === 'int32' ? new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
                                : new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const y = await m.executeAsync(tf.tensor(arr, shapeStr.split(',').map(Number), dtype), outName);
  fs.writeFileSync(outPath, JSON.stringify({shape: y.shape, data: Array.from(await y.data())}));
}
main();
