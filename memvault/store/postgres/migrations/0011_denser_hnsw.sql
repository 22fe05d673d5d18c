-- A denser HNSW graph for memories: m 24 and ef_construction 128 (pgvector's defaults, used until now: 16 and 64).
-- On a million memories in tight clusters of near-equidistant vectors the old graph gave strict recall@10 0.935 at
-- the widest search pgvector allows and 0.913 at ef_search 400 (BENCHMARKS.md, "A million memories"): the graph
-- walk did not reach every near-tie. The store creates new indexes with these values (PostgresStore._create_index,
-- HNSW_M and HNSW_EF_CONSTRUCTION); this rebuilds the ones a database already has: ALTER INDEX records the new
-- build options, REINDEX builds the graph again with them, in this script's transaction (a failure leaves the old
-- index as it was). REINDEX blocks writes to `memories` and the vector searches while it runs: seconds for
-- thousands of memories, many minutes for a million (docs/SCALING.md has the measured figure and the way to do it
-- without the wait: build the new index CONCURRENTLY first, then apply this script). Give the build enough
-- maintenance_work_mem for the graph to fit (about 2.5 GB at a million 384-d vectors) or it is much slower.
DO $$
DECLARE
  found record;
BEGIN
  FOR found IN
    SELECT c.relname FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_am a ON a.oid = c.relam
    WHERE i.indrelid = 'memories'::regclass AND a.amname = 'hnsw'
      AND NOT coalesce(c.reloptions @> ARRAY['m=24', 'ef_construction=128'], false)
  LOOP
    EXECUTE format('ALTER INDEX %I SET (m = 24, ef_construction = 128)', found.relname);
    EXECUTE format('REINDEX INDEX %I', found.relname);
  END LOOP;
END
$$;
