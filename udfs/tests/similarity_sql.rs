//! The similarity functions from SQL, as a pattern or a user would call them: which
//! messages say the same thing, found through LSH band keys instead of comparing every
//! pair.

use datafusion::arrow::array::{Array, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

#[tokio::test]
async fn messages_that_say_the_same_thing_meet_on_a_band_key() {
    let ctx = SessionContext::new();
    for f in tapio_udfs::all() {
        ctx.register_udf(f);
    }
    ctx.sql(
        "CREATE TABLE m (id VARCHAR, message VARCHAR) AS VALUES
         ('a', 'Back-off restarting failed container app in pod web-7d4f9c8b5-x2k9q_shop(8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c)'),
         ('b', 'Back-off restarting failed container app in pod web-7d4f9c8b5-m4n8z_shop(1f3e5d7c-9b8a-4c6d-8e2f-0a1b2c3d4e5f)'),
         ('c', 'Failed to pull image \"example/web:1.2\": rpc error: code = NotFound'),
         ('d', NULL)",
    )
    .await
    .unwrap();
    let pairs = ctx
        .sql(
            "WITH k AS (
               SELECT id, unnest(lsh_bands(minhash(msg_template(message)), 16)) AS key FROM m
             )
             SELECT DISTINCT x.id AS a, y.id AS b,
                    minhash_similarity(minhash(msg_template(mx.message)), minhash(msg_template(my.message))) AS sim
             FROM k x JOIN k y ON x.key = y.key AND x.id < y.id
             JOIN m mx ON mx.id = x.id JOIN m my ON my.id = y.id
             ORDER BY a, b",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let b = &pairs[0];
    // String columns may come as views: read them as plain strings.
    let col = |i: usize| {
        let c = cast(b.column(i), &DataType::Utf8).unwrap();
        c.as_any().downcast_ref::<StringArray>().unwrap().clone()
    };
    let (a, bb) = (col(0), col(1));
    let sim = b.column(2).as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(b.num_rows(), 1, "only the two BackOff messages meet");
    assert_eq!((a.value(0), bb.value(0)), ("a", "b"));
    assert!(!sim.is_null(0));
    assert_eq!(sim.value(0), 1.0);
}
