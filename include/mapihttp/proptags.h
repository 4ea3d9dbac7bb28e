/*
 * Property tags (PR_*) that mapihttp and its protocol notes use, with the
 * values MAPI and [MS-OXPROPS] give them. _W tags are PT_UNICODE (UTF-8 in
 * this API), _A tags PT_STRING8.
 */
#ifndef MAPIHTTP_PROPTAGS_H
#define MAPIHTTP_PROPTAGS_H

#include "mapihttp/mapidefs.h"

/* Identity and store */
#define PR_ENTRYID                 PROP_TAG(PT_BINARY, 0x0FFF)
#define PR_RECORD_KEY              PROP_TAG(PT_BINARY, 0x0FF9)
#define PR_STORE_RECORD_KEY        PROP_TAG(PT_BINARY, 0x0FFA)
#define PR_STORE_ENTRYID           PROP_TAG(PT_BINARY, 0x0FFB)
#define PR_MDB_PROVIDER            PROP_TAG(PT_BINARY, 0x3414)
#define PR_PROVIDER_UID            PROP_TAG(PT_BINARY, 0x300C)
#define PR_SERVICE_UID             PROP_TAG(PT_BINARY, 0x3D0C)
#define PR_EMSMDB_SECTION_UID      PROP_TAG(PT_BINARY, 0x3D15)
#define PR_OWN_STORE_ENTRYID       PROP_TAG(PT_BINARY, 0x3E06)
#define PR_STORE_ENTRYID_EMSMDB_V1 PROP_TAG(PT_BINARY, 0x65F6)
#define PR_MAILBOX_OWNER_ENTRYID   PROP_TAG(PT_BINARY, 0x661B)
#define PR_MAILBOX_OWNER_NAME_W    PROP_TAG(PT_UNICODE, 0x661C)
#define PR_MAILBOX_OWNER_NAME_A    PROP_TAG(PT_STRING8, 0x661C)
#define PR_IPM_SUBTREE_ENTRYID     PROP_TAG(PT_BINARY, 0x35E0)
#define PR_IPM_APPOINTMENT_ENTRYID PROP_TAG(PT_BINARY, 0x36D0)
#define PR_IPM_CONTACT_ENTRYID     PROP_TAG(PT_BINARY, 0x36D1)
#define PR_IPM_JOURNAL_ENTRYID     PROP_TAG(PT_BINARY, 0x36D2)
#define PR_IPM_NOTE_ENTRYID        PROP_TAG(PT_BINARY, 0x36D3)
#define PR_IPM_TASK_ENTRYID        PROP_TAG(PT_BINARY, 0x36D4)
#define PR_IPM_DRAFTS_ENTRYID      PROP_TAG(PT_BINARY, 0x36D7)
#define PR_ADDITIONAL_REN_ENTRYIDS PROP_TAG(PT_MV_BINARY, 0x36D8)

/* Profile properties read by CreateStoreEntryID2 (EdkMdb.h; pidProfileMin = 0x6600) */
#define PR_PROFILE_HOME_SERVER               PROP_TAG(PT_STRING8, 0x6602)
#define PR_PROFILE_OPEN_FLAGS                PROP_TAG(PT_LONG, 0x6609)
#define PR_PROFILE_TYPE                      PROP_TAG(PT_LONG, 0x660A)
#define PR_PROFILE_MAILBOX                   PROP_TAG(PT_STRING8, 0x660B)
#define PR_PROFILE_SERVER                    PROP_TAG(PT_STRING8, 0x660C)
#define PR_PROFILE_HOME_SERVER_DN            PROP_TAG(PT_STRING8, 0x6612)
#define PR_PROFILE_SERVER_DN                 PROP_TAG(PT_STRING8, 0x6614)
#define PR_PROFILE_SERVER_FQDN_W             PROP_TAG(PT_UNICODE, 0x662B)
#define PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W PROP_TAG(PT_UNICODE, 0x6641)
#define PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_A PROP_TAG(PT_STRING8, 0x6641)
/* The name Microsoft's articles on MAPI/HTTP use for the same tag. */
#define PR_PROFILE_USER_SMTP_ADDRESS_W PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W
#define PR_FORCE_USE_ENTRYID_SERVER    PROP_TAG(PT_BOOLEAN, 0x7CFE)
#define PR_PROFILE_MDB_DN              PROP_TAG(PT_STRING8, 0x7CFF)

/* Folders and hierarchy tables */
#define PR_FID               PROP_TAG(PT_I8, 0x6748)
#define PR_PARENT_FID        PROP_TAG(PT_I8, 0x6749)
#define PR_DISPLAY_NAME_W    PROP_TAG(PT_UNICODE, 0x3001)
#define PR_DISPLAY_NAME_A    PROP_TAG(PT_STRING8, 0x3001)
#define PR_DEPTH             PROP_TAG(PT_LONG, 0x3005)
#define PR_FOLDER_TYPE       PROP_TAG(PT_LONG, 0x3601)
#define PR_CONTENT_COUNT     PROP_TAG(PT_LONG, 0x3602)
#define PR_CONTENT_UNREAD    PROP_TAG(PT_LONG, 0x3603)
#define PR_SUBFOLDERS        PROP_TAG(PT_BOOLEAN, 0x360A)
#define PR_CONTAINER_FLAGS   PROP_TAG(PT_LONG, 0x3600)
#define PR_CONTAINER_CLASS_W PROP_TAG(PT_UNICODE, 0x3613)

/* Messages and contents tables */
#define PR_MID                    PROP_TAG(PT_I8, 0x674A)
#define PR_INST_ID                PROP_TAG(PT_I8, 0x674D)
#define PR_INSTANCE_NUM           PROP_TAG(PT_LONG, 0x674E)
#define PR_MESSAGE_CLASS_W        PROP_TAG(PT_UNICODE, 0x001A)
#define PR_SUBJECT_W              PROP_TAG(PT_UNICODE, 0x0037)
#define PR_SENDER_EMAIL_ADDRESS_W PROP_TAG(PT_UNICODE, 0x0C1F)
#define PR_SENDER_EMAIL_ADDRESS_A PROP_TAG(PT_STRING8, 0x0C1F)
#define PR_MESSAGE_DELIVERY_TIME  PROP_TAG(PT_SYSTIME, 0x0E06)
#define PR_MESSAGE_SIZE           PROP_TAG(PT_LONG, 0x0E08)
#define PR_LAST_MODIFICATION_TIME PROP_TAG(PT_SYSTIME, 0x3008)

/* Permissions tables */
#define PR_MEMBER_ID     PROP_TAG(PT_I8, 0x6671)
#define PR_MEMBER_NAME_W PROP_TAG(PT_UNICODE, 0x6672)
#define PR_MEMBER_RIGHTS PROP_TAG(PT_LONG, 0x6673)

/* Address book (NSPI) */
#define PR_ADDRTYPE_W               PROP_TAG(PT_UNICODE, 0x3002)
#define PR_ADDRTYPE_A               PROP_TAG(PT_STRING8, 0x3002)
#define PR_EMAIL_ADDRESS_W          PROP_TAG(PT_UNICODE, 0x3003)
#define PR_EMAIL_ADDRESS_A          PROP_TAG(PT_STRING8, 0x3003)
#define PR_DISPLAY_TYPE             PROP_TAG(PT_LONG, 0x3900)
#define PR_SMTP_ADDRESS_W           PROP_TAG(PT_UNICODE, 0x39FE)
#define PR_SMTP_ADDRESS_A           PROP_TAG(PT_STRING8, 0x39FE)
#define PR_EMS_AB_HOME_MDB_W        PROP_TAG(PT_UNICODE, 0x8006)
#define PR_EMS_AB_HOME_MDB_A        PROP_TAG(PT_STRING8, 0x8006)
#define PR_EMS_AB_PROXY_ADDRESSES_W PROP_TAG(PT_MV_UNICODE, 0x800F)
#define PR_EMS_AB_IS_MASTER         PROP_TAG(PT_BOOLEAN, 0xFFFB)
#define PR_EMS_AB_CONTAINERID       PROP_TAG(PT_LONG, 0xFFFD)

/* [MS-OXPROPS] names of the same tags, for readers of the specifications. */
#define PidTagEntryId                          PR_ENTRYID
#define PidTagFolderId                         PR_FID
#define PidTagParentFolderId                   PR_PARENT_FID
#define PidTagMid                              PR_MID
#define PidTagDisplayName_W                    PR_DISPLAY_NAME_W
#define PidTagSmtpAddress_W                    PR_SMTP_ADDRESS_W
#define PidTagEmailAddress_W                   PR_EMAIL_ADDRESS_W
#define PidTagAddressBookHomeMessageDatabase_W PR_EMS_AB_HOME_MDB_W

#endif
