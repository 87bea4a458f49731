import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueType as V } from '../../../src/evidence/evtx/constants.js';
import { decodeValue, filetime, guid, sid, systemtime } from '../../../src/evidence/evtx/values.js';

const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

test('FILETIME: exact 100 ns ticks since 1601, as evtx_dump (µs) and evtxexport (ns) print them', () => {
  // 132_000_000_000_000_000 ticks = 13_200_000_000 s after 1601 = 1_555_526_400 s after 1970.
  const t = u64(132_000_000_000_000_000n + 1_234_567n);
  assert.equal(filetime(t, 0, 6), '2019-04-17T18:40:00.123456Z');
  assert.equal(filetime(t, 0, 9), '2019-04-17T18:40:00.123456700Z');
  assert.equal(filetime(u64(0n), 0, 9), '1601-01-01T00:00:00.000000000Z');
  // Beyond 2^53 ticks, where doubles would round: the last tick must survive.
  const ticks = 0x01d7_0000_0000_0001n;
  assert.ok(ticks > 2n ** 53n);
  assert.equal(filetime(u64(ticks), 0, 9).slice(-10), (ticks % 10_000_000n).toString().padStart(7, '0') + '00Z');
});

test('SYSTEMTIME', () => {
  const b = Buffer.alloc(16);
  [2021, 3, 2, 9, 23, 5, 7, 42].forEach((v, i) => b.writeUInt16LE(v, i * 2));
  assert.equal(systemtime(b, 0, 3), '2021-03-09T23:05:07.042Z');
  assert.equal(systemtime(b, 0, 6), '2021-03-09T23:05:07.042000Z');
});

test('GUID: first three groups little-endian, the rest as stored', () => {
  const b = Buffer.from('33221100554477668899aabbccddeeff', 'hex');
  assert.equal(guid(b, 0), '00112233-4455-6677-8899-AABBCCDDEEFF');
  assert.equal(decodeValue(b, V.Guid, 0, 16, 'xml'), '{00112233-4455-6677-8899-AABBCCDDEEFF}');
});

test('SID', () => {
  const system = Buffer.from('010100000000000512000000', 'hex');
  assert.equal(sid(system, 0, system.length), 'S-1-5-18');
  const domainUser = Buffer.from('010500000000000515000000' + '9215ead4' + '9342c1f3' + '05fc4287' + 'e8030000', 'hex');
  assert.equal(sid(domainUser, 0, domainUser.length), `S-1-5-21-${0xd4ea1592}-${0xf3c14293}-${0x8742fc05}-1000`);
  assert.throws(() => sid(system, 0, 9));
});

test('integers, hex integers, floats and booleans keep their types in JSON', () => {
  const b = u64(0xffff_ffff_ffff_fffen);
  assert.equal(decodeValue(b, V.UInt64, 0, 8, 'json'), 0xffff_ffff_ffff_fffen);
  assert.equal(decodeValue(b, V.Int64, 0, 8, 'json'), -2);
  assert.equal(decodeValue(u64(0x342ban), V.HexInt64, 0, 8, 'json'), '0x342ba');
  assert.equal(decodeValue(u64(0x342ban), V.HexInt64, 0, 8, 'xml'), '0x00000000000342ba');
  assert.equal(decodeValue(u64(0x80041003n), V.HexInt32, 0, 4, 'xml'), '0x80041003');
  const f = Buffer.alloc(4);
  f.writeFloatLE(0.1);
  assert.equal(decodeValue(f, V.Real32, 0, 4, 'json'), 0.1);
  assert.equal(decodeValue(u64(2n), V.Bool, 0, 4, 'json'), true);
  assert.equal(decodeValue(u64(0n), V.Bool, 0, 4, 'json'), false);
});

test('arrays: strings split on NUL, numbers by width', () => {
  const s = Buffer.from('a\0bc\0\0', 'utf16le');
  assert.deepEqual(decodeValue(s, V.String | 0x80, 0, s.length - 2, 'json'), ['a', 'bc']);
  const n = Buffer.from('0100020003000000', 'hex');
  assert.deepEqual(decodeValue(n, V.UInt16 | 0x80, 0, 6, 'json'), [1, 2, 3]);
});

test('a value shorter than its type needs is a format error, not garbage', () => {
  assert.throws(() => decodeValue(Buffer.alloc(2), V.UInt32, 0, 2, 'json'), /needs 4/);
  assert.throws(() => decodeValue(Buffer.alloc(4), V.UInt32, 2, 4, 'json'), /past the end/);
});
