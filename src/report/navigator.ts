import type { CaseReport } from './case-report.js';

/**
 * The techniques a case shows as an ATT&CK Navigator layer (layer format 4.5, Navigator 4.9 and
 * later): each scored by how many detections showed it, with the rules that did as its comment.
 */
export interface NavigatorLayer {
  name: string;
  versions: { attack?: string; navigator: string; layer: '4.5' };
  domain: 'enterprise-attack';
  description: string;
  techniques: { techniqueID: string; score: number; comment: string; enabled: boolean; showSubtechniques?: boolean; metadata: { name: string; value: string }[] }[];
  gradient: { colors: string[]; minValue: number; maxValue: number };
  legendItems: { label: string; color: string }[];
  sorting: number;
  layout: { layout: 'side'; showID: boolean; showName: boolean; expandedSubtechniques: 'annotated' };
  hideDisabled: boolean;
  metadata: { name: string; value: string }[];
}

export function caseToNavigator(report: CaseReport): NavigatorLayer {
  const max = Math.max(1, ...report.techniques.map((t) => t.count));
  const subParents = new Set(report.techniques.filter((t) => t.id.includes('.')).map((t) => t.id.split('.')[0]!));
  return {
    name: report.title.slice(0, 100),
    versions: { ...(report.attack ? { attack: report.attack.split('.')[0]! } : {}), navigator: '4.9.1', layer: '4.5' },
    domain: 'enterprise-attack',
    description: `Techniques seen by Spoor's detections (${report.summary.detections} detections${report.summary.first ? `, ${report.summary.first} to ${report.summary.last}` : ''}); score = detections showing the technique.`,
    techniques: report.techniques.map((t) => ({
      techniqueID: t.id,
      score: t.count,
      comment: `${t.count} detection(s) by: ${t.rules.join('; ')}`,
      enabled: true,
      ...(subParents.has(t.id) ? { showSubtechniques: true } : {}),
      metadata: [
        ...(t.first ? [{ name: 'first seen', value: t.first }, { name: 'last seen', value: t.last! }] : []),
      ],
    })),
    gradient: { colors: ['#ffe9a8', '#f59e0b', '#b91c1c'], minValue: 0, maxValue: max },
    legendItems: [{ label: 'seen once', color: '#ffe9a8' }, { label: `seen ${max} times`, color: '#b91c1c' }],
    sorting: 3,
    layout: { layout: 'side', showID: true, showName: true, expandedSubtechniques: 'annotated' },
    hideDisabled: false,
    metadata: [{ name: 'generated', value: report.generated }, { name: 'tool', value: report.tool }],
  };
}
