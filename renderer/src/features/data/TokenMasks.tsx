/** The project's hand-edited token masks, by name (Examples → edit a row's mask), with Rename and Delete. */
import { useEffect } from 'react';
import { useApp, useCall } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { ItemActions } from '../../components/ItemActions';
import { fmtNum } from '../../components/format';

export function TokenMasks() {
  const names = useCall('tokenMasks.names', {});
  // deleting a dataset (or re-mapping one) takes its rows' masks with it: the list follows the project
  const { project } = useApp();
  const { reload } = names;
  useEffect(() => reload(), [project, reload]);
  if (!names.data || names.data.length === 0) return <ErrorText error={names.error} />;
  return (
    <section className="card" data-testid="token-masks">
      <h2>Token masks</h2>
      <table className="simple-table">
        <thead>
          <tr>
            <th>Name</th>
            <th className="num">Rows edited</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {names.data.map((m) => (
            <tr key={m.name} data-testid="token-mask-row" data-name={m.name}>
              <td>{m.name}</td>
              <td className="num">{fmtNum(m.rows)}</td>
              <td>
                <ItemActions kind="token_mask" name={m.name} onChanged={names.reload} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
