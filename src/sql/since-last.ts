import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';
import { sqlString } from './clickhouse.js';
import { type ConvertedRule, onlyFilesSql } from './hunt.js';
import { HUNTED, HUNTED_TABLE, INGESTED } from './schema.js';

/**
 * What `hunt --engine --since-last` hunts: the files (by content) that spoor_ingested holds and
 * spoor_hunted does not, for this rule set. A rule set is its rules' SQL and its feeds' content, so a
 * changed rule or feed hunts everything again. The list is taken when the hunt starts and put in a
 * table of this connection's server that the queries read (GLOBAL IN: on a cluster, read here and
 * sent to the shards); the files are marked hunted only when the hunt has run to its end.
 */
export class NewFiles {
  private name: string | undefined;

  private constructor(private readonly client: ClickHouseClient, readonly ruleSet: string, readonly files: string[]) {}

  static async list(client: ClickHouseClient, rules: readonly ConvertedRule[], feeds: readonly string[]): Promise<NewFiles> {
    const h = createHash('sha256');
    for (const sql of rules.map((r) => r.sql).sort()) h.update(sql).update('\0');
    for (const feed of [...feeds].sort()) h.update(createHash('sha256').update(readFileSync(feed)).digest('hex')).update('\0');
    const ruleSet = h.digest('hex');
    await client.command({ query: HUNTED_TABLE });
    const query = `SELECT source_sha256 AS s FROM ${INGESTED} WHERE source_sha256 NOT IN (SELECT source_sha256 FROM ${HUNTED} WHERE rule_set = ${sqlString(ruleSet)}) GROUP BY source_sha256`;
    const rows = (await (await client.query({ query, format: 'JSONEachRow' })).json()) as { s: string }[];
    return new NewFiles(client, ruleSet, rows.map((r) => r.s));
  }

  /** The table listing the files, made on first use: its name, and the condition that keeps their rows. */
  async table(): Promise<{ name: string; where: string }> {
    if (!this.name) {
      const name = `spoor_pending_${randomBytes(8).toString('hex')}`;
      await this.client.command({ query: `CREATE TABLE ${name} (source_sha256 String) ENGINE = Memory` });
      this.name = name;
      await this.client.insert({ table: name, values: this.files.map((s) => ({ source_sha256: s })), format: 'JSONEachRow' });
    }
    return { name: this.name, where: onlyFilesSql(this.name) };
  }

  async markHunted(): Promise<void> {
    const hunted = new Date().toISOString().slice(0, 19).replace('T', ' ');
    if (this.files.length) await this.client.insert({ table: HUNTED, values: this.files.map((s) => ({ rule_set: this.ruleSet, source_sha256: s, hunted })), format: 'JSONEachRow' });
  }

  async drop(): Promise<void> {
    if (this.name) await this.client.command({ query: `DROP TABLE IF EXISTS ${this.name}` });
    this.name = undefined;
  }
}
