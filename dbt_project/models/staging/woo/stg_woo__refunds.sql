-- WooCommerce refunds, one row per refund (header amount, which may include non-line amounts).
with

source as (
    {{ latest_version(source('raw', 'woo__refunds')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as refund_id,
        cast(_payload ->> 'order_id' as varchar) as order_id,
        {{ local_to_utc_ts("_payload ->> 'date_created_gmt'") }} as refunded_at,
        abs({{ json_money('_payload', '$.amount') }}) as amount_local,
        _payload ->> 'reason' as reason
    from source
)

select * from final
